"""The ``register_commands`` hook: the core's commands and each plugin's, failures skipped."""

from __future__ import annotations

import click
from click.testing import CliRunner

from cybexp_core import builtin_commands
from cybexp_core.builtin_commands import add_plugin_commands
from cybexp_core.cli import cli
from cybexp_core.plugins import load_filters
from fakes import entry_point

WITH = entry_point("withcommand", "fakes:with_command")
BROKEN = entry_point("brokencommands", "fakes:broken_commands")
GHOST = entry_point("ghost", "no_such_module_xyz:plugin")


def fresh_cli() -> click.Group:
    return click.Group("cybexp-analytics")


def test_hook_register_commands_adds_a_plugins_command() -> None:
    group = fresh_cli()
    assert add_plugin_commands(group, entry_points_=[WITH]) == []
    result = CliRunner().invoke(group, ["fake-hello"])
    assert result.output == "hello from a plugin\n"
    assert "fake-hello" in CliRunner().invoke(group, ["--help"]).output


def test_a_plugin_failing_in_register_commands_adds_nothing_and_is_reported() -> None:
    group = fresh_cli()
    errors = add_plugin_commands(group, entry_points_=[BROKEN, WITH, GHOST])
    assert sorted(group.commands) == ["fake-hello"]  # not fake-broken, added before it raised
    assert [e.name for e in errors] == ["brokencommands", "ghost"]
    assert "no commands today" in errors[0].error
    report = load_filters(entry_points_=[BROKEN, WITH])
    assert [f.info.name for f in report.filters] == ["withcommand"]
    assert report.errors[0].stage == "commands"
    assert report.errors[0].error.startswith("commands: RuntimeError: no commands today")


def test_the_core_adds_its_built_in_commands_through_the_same_hook() -> None:
    group = fresh_cli()
    add_plugin_commands(group, entry_points_=[], builtin=builtin_commands)
    assert {"check", "failed", "plugins", "related", "run", "server"} <= set(group.commands)


def test_a_name_already_taken_keeps_its_first_owner() -> None:
    group = fresh_cli()
    group.add_command(click.Command("fake-hello", callback=lambda: click.echo("core")))
    add_plugin_commands(group, entry_points_=[WITH])
    assert CliRunner().invoke(group, ["fake-hello"]).output == "core\n"


def test_threatrank_without_the_correlation_plugin_says_what_to_install() -> None:
    # the core's test environment has no plugin installed
    assert "threatrank" not in CliRunner().invoke(cli, ["--help"]).output
    result = CliRunner().invoke(cli, ["threatrank", "--all"])
    assert result.exit_code == 1
    assert "correlation filter plugin (cybexp-filter-correlation)" in result.output
    assert "pip install plugins/correlation" in result.output
