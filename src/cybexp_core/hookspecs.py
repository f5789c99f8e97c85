"""The hooks a cybexp-analytics filter plugin implements.

A plugin is a module (or object) named by an entry point in the group
``cybexp.filters``. It implements ``filter_info`` and ``filter`` with
``@hookimpl`` (``configure`` is optional)::

    from cybexp_core import Attribute, Consumes, Event, FilterInfo, hookimpl

    @hookimpl
    def filter_info(settings):
        return FilterInfo(id="…uuid…", name="example", version="1.0",
                          consumes=[Consumes.raw("example")])

    @hookimpl
    def filter(document, settings):
        ...

Hook implementations may take fewer arguments than the spec (pluggy's opt-in
arguments): ``def filter(document, options)`` is how a filter with a
``configure`` hook reads its parsed settings. The runner calls each plugin on
its own (never a 1:N fan-out), so one plugin's exception never stops another.

Stability: the hook names, their arguments and the return contracts below are
the stable API of cybexp-core 1.x. New optional arguments may be added in a
minor release (existing implementations keep working); removing or changing
one is a major release. See ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from cybexp_core.declaration import FilterInfo, FilterResult
    from cybexp_core.models import Instance

#: Project name shared by the markers and the plugin manager.
PROJECT = "cybexp"
#: Entry-point group in which filter plugins are discovered.
ENTRY_POINT_GROUP = "cybexp.filters"

hookspec = pluggy.HookspecMarker(PROJECT)


# -------------------------------------------------------------------------
# Declaration
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def configure(settings: Mapping[str, Any]) -> Any:
    """Parse the filter's settings once, when the plugin is loaded (optional hook).

    Called once, before ``filter_info``. Stops at the first non-None result.
    What it returns is handed back to ``filter_info`` and to every ``filter``
    call as their ``options`` argument, so settings are checked and parsed
    once, not on every document, and no cache is needed.

    :param settings: This filter's section of the configuration file
        (``{"filters": {"<name>": {...}}}``), an empty mapping when there is
        none.
    :return: The parsed options, any object (best immutable: it is shared by
        every call). Without this hook, ``options`` is ``None``.
    :raises cybexp_core.PluginError: If ``settings`` are unusable; the plugin
        is then reported and skipped.
    """


@hookspec(firstresult=True)
def filter_info(settings: Mapping[str, Any], options: Any) -> FilterInfo:
    """Declare the filter: its stable id, name, version and the documents it consumes.

    Called once when the plugin is loaded. Stops at the first non-None result.

    :param settings: This filter's section of the configuration file
        (``{"filters": {"<name>": {...}}}``), an empty mapping when there is
        none. Use it for options such as which raw sub_types to read.
    :param options: What ``configure`` returned (``None`` without it).
    :return: A :class:`cybexp_core.FilterInfo`. ``id`` must stay the same
        across versions: the runner marks processed documents with it.
        ``version`` is recorded on failures; a new version retries what an
        older one failed on. ``consumes`` lists raw sub_types
        (``Consumes.raw("cowrie")``) or derived instances
        (``Consumes("event", "login")``, ``Consumes("event")`` for all events).
    :raises cybexp_core.PluginError: If ``settings`` are unusable; the plugin
        is then reported and skipped.
    """


# -------------------------------------------------------------------------
# Processing
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def filter(
    document: dict[str, Any], settings: Mapping[str, Any], options: Any
) -> Sequence[Instance] | FilterResult | None:
    """Turn one input document into TAHOE instances.

    Called once per pending document that matches ``consumes``. Must be
    deterministic and free of I/O: the same document always gives the same
    instances (never use the clock for a timestamp), because a document may be
    processed again after a crash and the result must not change.

    :param document: The stored document without ``_id``: for a raw document
        ``{"itype": "raw", "sub_type", "data", "orgid", "timezone", "_hash", ...}``;
        for a derived input, the instance's TAHOE document (``itype``,
        ``sub_type``, ``data``, ``_ref``, ...). Fields starting with ``_`` other
        than TAHOE's own belong to the runner; do not rely on them, except
        ``_received``: the time the document was stored (epoch seconds, the
        creation time of its ObjectId), which the runner adds to every
        document it offers, for records that carry no time of their own.
    :param settings: This filter's section of the configuration file.
    :param options: What ``configure`` returned (``None`` without it), the
        same object for every document.
    :return: The instances made (``Attribute``, ``Object``, ``Event``,
        ``Session``; their children are written too), or a
        :class:`cybexp_core.FilterResult` that also lists parts of the input
        that were skipped, with a reason. An empty list means "processed,
        nothing to make". ``None`` means "this document is not for me"; it is
        marked so that it is not offered to this filter again.
    :raises cybexp_core.InputError: For bad input. The document is kept as
        failed with the message and is not retried with this filter version.
        Any other exception is retried a few times, then kept as failed too.
    """


# -------------------------------------------------------------------------
# Commands
# -------------------------------------------------------------------------


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add the plugin's own subcommands to `cybexp-analytics` (optional hook).

    Called once per command line, before it is parsed, after the core's
    built-in commands were added (through this same hook). Add commands with
    ``cli.add_command(command)`` or ``@cli.command()``; a command that needs
    the archive takes it with :func:`cybexp_core.commands.pass_archive`. A
    name that is already taken is left to its first owner, with a warning.

    :param cli: The ``cybexp-analytics`` click group.
    :return: Nothing; the commands added are the result.
    :raises Exception: Anything it raises makes the plugin reported (by
        ``plugins``, stage ``commands``) and skipped: none of its commands is
        added and its filter is not loaded.
    """
