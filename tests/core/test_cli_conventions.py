"""Every command's help follows one set of conventions (the CLI's help pages are its manual)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from cybexp_core.cli import cli
from cybexp_core.plain_help import plain_text


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = list(_commands(cli))
IDS = [" ".join(path) or "cybexp-analytics" for path in COMMANDS]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "-h"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_every_option_has_help(path: tuple[str, ...]) -> None:
    for param in _command(path).params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_help_has_no_raw_restructured_text(path: tuple[str, ...]) -> None:
    page = _help(path)
    for marker in ("``", ":param", ":class:`", ":func:`", ":raises", "::\n"):
        assert marker not in page, f"{marker!r} in the help of {' '.join(path)}"


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_defaults_are_shown_one_way(path: tuple[str, ...]) -> None:
    """As click's ``[default: ...]``, never in the help sentence."""
    page = _help(path)
    assert not re.search(r"\(default[ :]", page, re.I), page
    command = _command(path)
    for param in command.params:
        default = param.get_default(click.Context(command)) if param.name else None
        shown = isinstance(default, str | int | float) and not isinstance(default, bool)
        if isinstance(param, click.Option) and shown and not (param.is_eager or param.count):
            start = page.index(param.opts[-1])
            following = " ".join(page[start : start + 400].split("\n  -")[0].split())
            assert "default: " in following, f"{param.opts[0]} does not show its default"


def test_no_command_reuses_a_global_option_name() -> None:
    """Global options after the command are moved before it: no command may own one."""
    globals_ = {name for p in cli.params for name in (*p.opts, *p.secondary_opts)}
    for path in COMMANDS[1:]:
        for param in _command(path).params:
            clash = globals_ & {*param.opts, *param.secondary_opts} - {"-h", "--help"}
            assert not clash, f"{' '.join(path)} defines {clash}"


def test_plain_text_keeps_the_words() -> None:
    text = "Run ``run --once``; see :class:`~cybexp_core.backend.Archive` and *seeds*::"
    assert plain_text(text) == "Run run --once; see Archive and seeds:"
