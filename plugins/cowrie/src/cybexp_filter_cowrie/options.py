"""The plugin's settings (its section of the configuration file), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from cybexp_core import PluginError

__all__ = ["DEFAULT_EVENT_PATHS", "DEFAULT_SUB_TYPES", "Options", "options_from"]

#: Raw sub_types read by default: plain Cowrie events and the original
#: deployment's Filebeat documents.
DEFAULT_SUB_TYPES = ("cowrie", "unr_honeypot")
#: Where a raw document's ``data`` holds its Cowrie event, tried in order: the top
#: level (Cowrie's own line, T-Pot, Filebeat with ``keys_under_root``), Filebeat's
#: ``message`` string, Filebeat's ``json.*``, a Logstash ``cowrie.*`` target, Wazuh's
#: ``full_log``. A path is dotted (``event.original``); ``.`` is the top level.
DEFAULT_EVENT_PATHS = (".", "message", "json", "cowrie", "full_log")

#: A path split into keys; ``()`` is the top level.
Path = tuple[str, ...]
PathsBySubType = tuple[tuple[str, tuple[Path, ...]], ...]
_SETTINGS = frozenset({"sub_types", "telnet_sensors", "generic_events", "event_paths"})


def _path(text: str) -> Path:
    return () if text == "." else tuple(text.split("."))


@frozen
class Options:
    """``sub_types``: raw sub_types to read. ``telnet_sensors``: sensor names whose
    events are Telnet when the event itself does not say (Cowrie before 2.9).
    ``generic_events``: event ids without a handler that become a generic event
    (a fork's own ids). ``event_paths``: per raw sub_type, where its documents hold
    the Cowrie event (default :data:`DEFAULT_EVENT_PATHS`)."""

    sub_types: tuple[str, ...] = DEFAULT_SUB_TYPES
    telnet_sensors: frozenset[str] = frozenset()
    generic_events: frozenset[str] = frozenset()
    event_paths: PathsBySubType = ()

    def paths_for(self, sub_type: object) -> tuple[Path, ...]:
        """The paths to look for the Cowrie event at in a raw document of ``sub_type``."""
        for name, paths in self.event_paths:
            if name == sub_type:
                return paths
        return _DEFAULT_PATHS


_DEFAULT_PATHS = tuple(_path(text) for text in DEFAULT_EVENT_PATHS)


def _names(settings: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = settings.get(key, default)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PluginError(f"cowrie: setting {key!r} must be a list of names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise PluginError(f"cowrie: setting {key!r} holds {item!r}, not a name")
    return tuple(dict.fromkeys(value))


def _event_paths(value: Any, sub_types: tuple[str, ...]) -> PathsBySubType:
    if not isinstance(value, Mapping):
        raise PluginError(
            f"cowrie: setting 'event_paths' must map raw sub_types to lists of paths, got {value!r}"
        )
    found = []
    for sub_type, paths in value.items():
        if sub_type not in sub_types:
            raise PluginError(
                f"cowrie: setting 'event_paths' names {sub_type!r}, which is not in 'sub_types'"
            )
        texts = _names({f"event_paths.{sub_type}": paths}, f"event_paths.{sub_type}", ())
        if not texts or not all(text == "." or "" not in text.split(".") for text in texts):
            raise PluginError(
                f"cowrie: setting 'event_paths' for {sub_type!r} must be a list of dotted "
                f"paths such as 'message', 'json' or '.', got {paths!r}"
            )
        found.append((sub_type, tuple(_path(text) for text in texts)))
    return tuple(found)


def options_from(settings: Mapping[str, Any]) -> Options:
    """Validated :class:`Options`; raises :class:`PluginError` for unusable settings.

    Called once, by the plugin's ``configure`` hook, when the plugin is loaded.
    """
    unknown = set(settings) - _SETTINGS
    if unknown:
        raise PluginError(f"cowrie: unknown settings {sorted(unknown)}")
    sub_types = _names(settings, "sub_types", DEFAULT_SUB_TYPES)
    if not sub_types:
        raise PluginError("cowrie: setting 'sub_types' must name at least one raw sub_type")
    for name in sub_types:
        if not name.isidentifier():
            raise PluginError(f"cowrie: raw sub_type {name!r} is not an identifier")
    return Options(
        sub_types,
        frozenset(_names(settings, "telnet_sensors", ())),
        frozenset(_names(settings, "generic_events", ())),
        _event_paths(settings.get("event_paths", {}), sub_types),
    )
