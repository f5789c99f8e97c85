"""The core's own subcommands, added through the ``register_commands`` hook like a plugin's.

:func:`add_commands` builds the command line: the built-in commands first (this
module is registered as a plugin, as pytest registers its built-ins), then each
installed plugin's. A command of a plugin that is not installed is a hidden
stub that says which plugin provides it and how to install it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

import click

from cybexp_core import hookspecs
from cybexp_core.failed_cli import failed
from cybexp_core.plugins import LoadError, commands_of, disabled, hookimpl, new_plugin_manager
from cybexp_core.plugins_cli import check, plugins
from cybexp_core.related_cli import related
from cybexp_core.run_cli import run
from cybexp_core.scaffold import new_plugin
from cybexp_core.server_cli import server

__all__ = ["PLUGIN_COMMANDS", "add_commands", "add_plugin_commands", "register_commands"]

log = logging.getLogger(__name__)

#: Commands of the built-in plugins: command -> (entry-point name, distribution, folder).
PLUGIN_COMMANDS = {
    "threatrank": ("correlation", "cybexp-filter-correlation", "plugins/correlation"),
}


@hookimpl
def register_commands(cli: click.Group) -> None:
    """The built-in commands (``ingest`` and ``status`` are defined on the group itself)."""
    for command in (check, failed, plugins, new_plugin, related, run, server):
        cli.add_command(command)


def _missing(name: str, plugin: str, distribution: str, folder: str) -> click.Command:
    def refuse() -> None:
        raise click.ClickException(
            f"{name} is a command of the {plugin} filter plugin ({distribution}), which is "
            f"not installed (or is disabled): install it with `pip install {folder}` from "
            f"a clone of cybexp-analytics, or `pip install {distribution}`"
        )

    return click.Command(
        name,
        callback=refuse,
        hidden=True,
        help=f"Provided by the {plugin} plugin.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def add_plugin_commands(
    cli: click.Group,
    *,
    entry_points_: Iterable[EntryPoint] | None = None,
    builtin: object | None = None,
) -> list[LoadError]:
    """Add to ``cli`` the commands of ``builtin`` (the core's own), then of every plugin.

    A plugin that fails to import or raises in ``register_commands`` adds no
    command and is returned (``plugins`` reports it when it loads the filters);
    a command name already taken keeps its first owner.
    """
    blocked = disabled()
    if entry_points_ is None:
        entry_points_ = entry_points(group=hookspecs.ENTRY_POINT_GROUP)
    candidates: list[tuple[str, Callable[[], object]]] = []
    if builtin is not None:
        candidates.append(("cybexp-core", lambda: builtin))
    candidates += [
        (ep.name, ep.load)
        for ep in sorted(entry_points_, key=lambda ep: ep.name)
        if ep.name not in blocked
    ]
    errors: list[LoadError] = []
    for name, load in candidates:
        try:
            manager = new_plugin_manager()
            manager.register(load(), name=name)
            commands = commands_of(manager)
        except Exception as exc:
            log.debug("commands of filter plugin %s skipped: %s", name, exc, exc_info=True)
            errors.append(LoadError(name, None, f"commands: {type(exc).__name__}: {exc}"))
            continue
        for command in commands:
            if command.name in cli.commands:
                log.warning("command %s of plugin %s: the name is taken", command.name, name)
                continue
            cli.add_command(command)
    return errors


def add_commands(cli: click.Group) -> None:
    """Add the built-in commands, then every installed plugin's, then the stubs of the absent."""
    add_plugin_commands(cli, builtin=sys.modules[__name__])
    for name, (plugin, distribution, folder) in PLUGIN_COMMANDS.items():
        if name not in cli.commands:
            cli.add_command(_missing(name, plugin, distribution, folder))
