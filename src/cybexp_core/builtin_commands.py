"""The core's own subcommands, added through the ``register_commands`` hook like a plugin's.

:func:`add_commands` builds the command line: the built-in commands first (this
module is registered as a plugin, as pytest registers its built-ins), then each
installed plugin's. A command of a plugin that is not installed is a hidden
stub that says which plugin provides it and how to install it.
"""

from __future__ import annotations

import sys

import click

from cybexp_core.failed_cli import failed
from cybexp_core.plugins import add_plugin_commands, hookimpl
from cybexp_core.plugins_cli import check, plugins
from cybexp_core.related_cli import related
from cybexp_core.run_cli import run
from cybexp_core.scaffold import new_plugin
from cybexp_core.server_cli import server

__all__ = ["PLUGIN_COMMANDS", "add_commands", "register_commands"]

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


def add_commands(cli: click.Group) -> None:
    """Add the built-in commands, then every installed plugin's, then the stubs of the absent."""
    add_plugin_commands(cli, builtin=sys.modules[__name__])
    for name, (plugin, distribution, folder) in PLUGIN_COMMANDS.items():
        if name not in cli.commands:
            cli.add_command(_missing(name, plugin, distribution, folder))
