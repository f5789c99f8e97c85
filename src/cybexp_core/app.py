"""State shared by the CLI commands: settings, the database, the loaded plugins."""

from __future__ import annotations

import contextlib

import click
from attrs import define, evolve, field

from cybexp_core.backend import Archive
from cybexp_core.config import Settings, redact_url
from cybexp_core.embedded import EmbeddedServer
from cybexp_core.errors import ConfigError
from cybexp_core.plugins import LoadReport, load_filters

__all__ = ["App", "fail", "pass_app"]


@define
class App:
    """What every command needs: settings, and a database opened on first use."""

    settings: Settings
    stack: contextlib.ExitStack = field(factory=contextlib.ExitStack)
    #: ``-v`` count of the command line.
    verbose: int = 0
    _archive: Archive | None = None
    _report: LoadReport | None = None

    def resolved_settings(self) -> Settings:
        """Settings with a usable URL, starting the embedded server if none is configured."""
        if self.settings.mongo_url is None:
            server = self.stack.enter_context(EmbeddedServer())
            click.echo(
                f"using the embedded server {server.uri}, data in {server.directory}, "
                f"log {server.log_file}",
                err=True,
            )
            self.settings = evolve(self.settings, mongo_url=server.uri)
        return self.settings

    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = Archive.connect(self.resolved_settings())
            self.stack.callback(self._archive.close)
        return self._archive

    def filters(self) -> LoadReport:
        """The installed filter plugins, loaded once per command.

        :raises ConfigError: When the configuration has settings for a filter
            that is not installed (a misspelt name would be ignored otherwise).
        """
        if self._report is None:
            report = load_filters(settings=self.settings.filters)
            unknown = sorted(set(self.settings.filters) - report.names())
            if unknown:
                from cybexp_core.config_schema import did_you_mean  # pydantic: only here

                known = sorted(report.names())
                lines = [
                    f"filters.{name}: no installed filter plugin has this entry-point name"
                    f"{did_you_mean(name, known)}"
                    for name in unknown
                ]
                raise ConfigError(
                    f"{self.settings.source or 'the configuration'}: "
                    + "; ".join(lines)
                    + f"; installed: {', '.join(known) or 'none'}"
                )
            self._report = report
        return self._report


pass_app = click.make_pass_decorator(App)


def fail(message: str) -> click.ClickException:
    """A user-facing error (exit 1) whose text never shows URL credentials."""
    return click.ClickException(redact_url(message) if "://" in message else message)
