"""Help pages in plain text: the reStructuredText of docstrings is not shown raw.

Command docstrings are written for Sphinx and the API docs (````code````,
``:class:`~cybexp_core.Archive```, ``*emphasis*``, literal blocks after ``::``);
``--help`` shows them as plain words. :func:`use_plain_help` applies this to a
command and, for a group, to every subcommand, also ones added later by
plugins (see :class:`cybexp_core.global_options.GlobalOptionsGroup`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import click

__all__ = ["PlainContext", "PlainHelpFormatter", "plain_text", "use_plain_help"]

_ROLE_WITH_TITLE = re.compile(r":[\w:.-]+:`([^`<]+?)\s*<[^`>]+>`")
_ROLE = re.compile(r":[\w:.-]+:`~?(?:[\w.]+\.)?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}(?=\S)([^*\n]+?)(?<=\S)\*{1,2}(?![\w*])")


def plain_text(text: str) -> str:
    """``text`` with reStructuredText roles, literals, emphasis and ``::`` made plain."""
    text = _ROLE_WITH_TITLE.sub(r"\1", text)
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    return re.sub(r"(\S)::$", r"\1:", text, flags=re.M).replace("\n::\n", "\n")


class PlainHelpFormatter(click.HelpFormatter):
    """A help formatter that writes text and option help through :func:`plain_text`."""

    def write_text(self, text: str) -> None:
        super().write_text(plain_text(text))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(term, plain_text(text)) for term, text in rows], col_max, col_spacing)


class PlainContext(click.Context):
    """A context whose help pages use :class:`PlainHelpFormatter`."""

    formatter_class = PlainHelpFormatter


def use_plain_help(commands: Iterable[click.Command]) -> None:
    """Give each command (and every subcommand of a group) plain help pages."""
    for command in commands:
        command.context_class = PlainContext
        if isinstance(command, click.Group):
            use_plain_help(command.commands.values())
