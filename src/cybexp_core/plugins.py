"""Finding filter plugins through entry points, each loaded in isolation.

``load_filters()`` walks the ``cybexp.filters`` entry-point group. A plugin
that fails to import, does not match the hook spec, or declares itself badly
is recorded in the :class:`LoadReport` and skipped; the others load. With
``strict=True`` the first such error is raised instead.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click
import pluggy
from attrs import define, field, frozen

from cybexp_core import hookspecs
from cybexp_core.declaration import FilterInfo, FilterResult
from cybexp_core.errors import PluginError

__all__ = [
    "LoadError",
    "LoadReport",
    "LoadedFilter",
    "commands_of",
    "disabled",
    "hookimpl",
    "load_filters",
    "new_plugin_manager",
]

log = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)

#: Comma-separated entry-point names that are not loaded (like pytest's ``-p no:``).
DISABLE_ENV = "CYBEXP_DISABLE_FILTERS"


def disabled() -> set[str]:
    """Entry-point names in ``$CYBEXP_DISABLE_FILTERS``."""
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def new_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows the cybexp hook specs and no plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


@frozen
class LoadError:
    """A plugin that was not loaded, and why.

    ``stage`` is ``import`` (loading its module raised), ``settings`` (its
    ``configure`` or ``filter_info`` refused the settings the configuration gives it) or
    ``validation`` (it breaks the hook spec or declares itself badly);
    ``detail`` is the traceback.
    """

    name: str
    distribution: str | None
    error: str
    detail: str = ""
    stage: str = "validation"


@frozen
class LoadedFilter:
    """A loaded filter: its declaration and a way to call only this plugin."""

    info: FilterInfo
    entry_point: str
    distribution: str | None
    distribution_version: str | None
    settings: Mapping[str, Any]
    _call: Callable[..., Any] = field(repr=False, alias="call")
    #: What the plugin's ``configure`` hook made of ``settings`` (``None`` without one).
    options: Any = field(default=None, repr=False)

    def run(self, document: dict[str, Any]) -> FilterResult | None:
        """Call this plugin's ``filter`` hook; ``None`` means the input was not for it."""
        value = self._call(document, self.settings, self.options)
        if type(value) is FilterResult:  # the usual case: only its instances to check
            return value.checked()
        return None if value is None else FilterResult.coerce(value)

    def matches(self, selectors: Iterable[str]) -> bool:
        """True when any selector is this filter's name, id or entry-point name."""
        names = {self.info.name, self.info.id, self.entry_point}
        return any(selector in names for selector in selectors)


@define
class LoadReport:
    """Outcome of plugin discovery: the filters that loaded and the errors of the rest."""

    filters: list[LoadedFilter] = field(factory=list)
    errors: list[LoadError] = field(factory=list)
    #: Entry-point names not loaded because they are blocked or disabled.
    disabled: list[str] = field(factory=list)

    def names(self) -> set[str]:
        """Every entry-point name found: loaded, failed or disabled."""
        found = {f.entry_point for f in self.filters} | {e.name for e in self.errors}
        return found | set(self.disabled)


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


class _CommandsFailed(Exception):
    """``register_commands`` raised (its cause)."""


class _SettingsRefused(Exception):
    """``configure`` or ``filter_info`` raised (its cause): with settings given, they are
    the likely culprit."""


@frozen
class _Registered:
    info: FilterInfo
    call: Callable[..., Any]
    options: Any


def _register(name: str, plugin: object, settings: Mapping[str, Any]) -> _Registered:
    """Register ``plugin`` in a plugin manager of its own, validate it, read its declaration.

    One manager per plugin means its ``filter`` hook calls this plugin only:
    filters never fan out 1:N, so one plugin's exception cannot stop another.
    """
    manager = new_plugin_manager()
    manager.register(plugin, name=name)
    manager.check_pending()
    for hook in ("filter_info", "filter"):
        if not getattr(manager.hook, hook).get_hookimpls():
            raise PluginError(f"plugin {name!r} must implement both filter_info() and filter()")
    try:
        commands_of(manager)
    except Exception as exc:
        raise _CommandsFailed from exc
    try:
        options = manager.hook.configure(settings=settings)
        info = manager.hook.filter_info(settings=settings, options=options)
    except Exception as exc:
        raise _SettingsRefused from exc
    if not isinstance(info, FilterInfo):
        raise PluginError(
            f"plugin {name!r}: filter_info() returned {type(info).__name__}, not FilterInfo"
        )
    return _Registered(info, _direct_call(manager), options)


def _direct_call(manager: pluggy.PluginManager) -> Callable[[Any, Any, Any], Any]:
    """``call(document, settings, options)``: the single ``filter`` implementation of
    ``manager``, called without pluggy's dispatch.

    The manager holds exactly one plugin and no wrappers, so this does what
    ``manager.hook.filter(...)`` does (opt-in arguments included) at a fraction
    of the cost per document.
    """
    [impl] = manager.hook.filter.get_hookimpls()
    if impl.hookwrapper or impl.wrapper:
        hook = manager.hook.filter
        return lambda document, settings, options: hook(
            document=document, settings=settings, options=options
        )
    function, names = impl.function, impl.argnames
    if names == ("document", "options"):  # the usual signature
        return lambda document, settings, options: function(document, options)

    def call(document: Any, settings: Any, options: Any) -> Any:
        given = {"document": document, "settings": settings, "options": options}
        return function(*[given[name] for name in names])

    return call


def load_filters(
    *,
    entry_points_: Iterable[EntryPoint] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    blocked: Iterable[str] = (),
    strict: bool = False,
    extra_plugins: Mapping[str, object] | None = None,
) -> LoadReport:
    """Load every filter plugin, isolating each one's failure.

    :param entry_points_: Entry points to load; default: the installed ones in
        ``cybexp.filters``.
    :param settings: Per-filter settings keyed by entry-point name.
    :param blocked: Entry-point names not to load (plus ``$CYBEXP_DISABLE_FILTERS``).
    :param strict: Raise :class:`PluginError` on the first broken plugin.
    :param extra_plugins: Plugin objects to register directly (tests, embedding).
    """
    settings = settings or {}
    blocked_names = set(blocked) | disabled()
    if entry_points_ is None:
        entry_points_ = entry_points(group=hookspecs.ENTRY_POINT_GROUP)
    report = LoadReport()
    seen_ids: dict[str, str] = {}

    candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = []
    for ep in sorted(entry_points_, key=lambda ep: ep.name):
        if ep.name in blocked_names:
            log.info("filter plugin %s is disabled", ep.name)
            report.disabled.append(ep.name)
            continue
        dist, version = _dist_of(ep)
        candidates.append((ep.name, ep.load, dist, version))
    for name, plugin in (extra_plugins or {}).items():
        candidates.append((name, lambda plugin=plugin: plugin, None, None))

    for name, load, dist, version in candidates:
        own = dict(settings.get(name, {}))
        stage = "import"
        try:
            plugin = load()
            stage = "validation"
            made = _register(name, plugin, own)
            info = made.info
            if info.id in seen_ids:
                raise PluginError(f"filter id {info.id} is already used by {seen_ids[info.id]!r}")
            seen_ids[info.id] = name
            report.filters.append(
                LoadedFilter(info, name, dist, version, own, call=made.call, options=made.options)
            )
        except Exception as exc:
            shown = exc.__cause__ if isinstance(exc, _SettingsRefused | _CommandsFailed) else exc
            shown = shown or exc
            if isinstance(exc, _SettingsRefused) and own:
                stage = "settings"
            if isinstance(exc, _CommandsFailed):
                stage = "commands"
            if strict:
                raise PluginError(f"Error loading filter plugin {name!r}: {shown}") from exc
            detail = "".join(traceback.format_exception(shown))
            message = f"{stage}: {type(shown).__name__}: {shown}"
            error = LoadError(name, dist, message, detail, stage)
            log.error("filter plugin %s skipped: %s", name, error.error)
            report.errors.append(error)
    return report


def commands_of(manager: pluggy.PluginManager) -> list[click.Command]:
    """The commands the plugins of ``manager`` add in ``register_commands`` (a scratch group)."""
    scratch = click.Group()
    manager.hook.register_commands(cli=scratch)
    return list(scratch.commands.values())
