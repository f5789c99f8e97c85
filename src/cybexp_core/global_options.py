"""Global options (``--db``, ``--config``, ``-v``...) accepted after the subcommand too.

click reads a group's options only before the subcommand name.
:class:`GlobalOptionsGroup` moves the group's own options found later in the
command line (up to a ``--``) to just before the subcommand, so
``cybexp-analytics status --db x`` means ``cybexp-analytics --db x status``.
No subcommand may define an option of the same name (a test checks it).
"""

from __future__ import annotations

import click

from cybexp_core.plain_help import PlainContext, use_plain_help

__all__ = ["GlobalOptionsGroup"]


class GlobalOptionsGroup(click.Group):
    """A :class:`click.Group` whose options may also follow the subcommand.

    Its help pages, and those of every subcommand, are plain text
    (:mod:`cybexp_core.plain_help`).
    """

    context_class = PlainContext

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            use_plain_help([command])
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = self._hoisted(ctx, args)
        return super().parse_args(ctx, args)

    def _option_names(self, ctx: click.Context) -> tuple[set[str], set[str]]:
        """Names of this group's options that take a value, and of its flags."""
        valued: set[str] = set()
        flags: set[str] = set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option) and not param.is_eager:  # not --help, --version
                names = set(param.opts) | set(param.secondary_opts)
                takes_value = not (param.is_flag or param.count)
                (valued if takes_value else flags).update(names)
        return valued, flags

    def _hoisted(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued, flags = self._option_names(ctx)

        def width(token: str) -> int:
            """How many tokens the global option at ``token`` spans; 0 if it is not one."""
            if token in valued:
                return 2
            if token in flags or token.split("=", 1)[0] in valued:
                return 1
            short_counts = {name[1] for name in flags if len(name) == 2}
            if len(token) > 2 and token[0] == "-" and token[1] != "-":
                return 1 if set(token[1:]) <= short_counts else 0
            return 0

        index = 0
        while index < len(args) and args[index].startswith("-"):
            step = 1 if args[index] in ctx.help_option_names else width(args[index])
            if step == 0:
                return args  # an unknown option: let click say so
            index += step
        if index >= len(args):
            return args
        head, command, rest = args[:index], args[index], args[index + 1 :]
        moved: list[str] = []
        kept: list[str] = []
        position = 0
        while position < len(rest):
            token = rest[position]
            if token == "--":
                kept.extend(rest[position:])
                break
            step = width(token)
            if step and position + step <= len(rest):
                moved.extend(rest[position : position + step])
                position += step
            else:
                kept.append(token)
                position += 1
        return [*head, *moved, command, *kept]
