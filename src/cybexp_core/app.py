"""State shared by the CLI commands: settings, the database, the loaded plugins."""

from __future__ import annotations

import contextlib

import click
from attrs import define, evolve, field

from cybexp_core.backend import Archive
from cybexp_core.config import Settings, redact_url
from cybexp_core.embedded import EmbeddedServer
from cybexp_core.plugins import LoadReport, load_filters

__all__ = ["App", "fail", "pass_app"]


@define
class App:
    """What every command needs: settings, and a database opened on first use."""

    settings: Settings
    stack: contextlib.ExitStack = field(factory=contextlib.ExitStack)
    _archive: Archive | None = None

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
        return load_filters(settings=self.settings.filters)


pass_app = click.make_pass_decorator(App)


def fail(message: str) -> click.ClickException:
    """A user-facing error (exit 1) whose text never shows URL credentials."""
    return click.ClickException(redact_url(message) if "://" in message else message)
