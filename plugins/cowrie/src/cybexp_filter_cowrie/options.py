"""The plugin's settings (its section of the configuration file), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from cybexp_core import PluginError

__all__ = ["DEFAULT_SUB_TYPES", "Options", "options_from"]

#: Raw sub_types read by default: plain Cowrie events and the original
#: deployment's Filebeat documents.
DEFAULT_SUB_TYPES = ("cowrie", "unr_honeypot")


@frozen
class Options:
    """``sub_types``: raw sub_types to read. ``telnet_sensors``: sensor names whose
    events are Telnet when the event itself does not say (Cowrie before 2.9)."""

    sub_types: tuple[str, ...] = DEFAULT_SUB_TYPES
    telnet_sensors: frozenset[str] = frozenset()


def _names(settings: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = settings.get(key, default)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PluginError(f"cowrie: setting {key!r} must be a list of names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise PluginError(f"cowrie: setting {key!r} holds {item!r}, not a name")
    return tuple(dict.fromkeys(value))


def options_from(settings: Mapping[str, Any]) -> Options:
    """Validated :class:`Options`; raises :class:`PluginError` for unusable settings.

    Called once, by the plugin's ``configure`` hook, when the plugin is loaded.
    """
    unknown = set(settings) - {"sub_types", "telnet_sensors"}
    if unknown:
        raise PluginError(f"cowrie: unknown settings {sorted(unknown)}")
    sub_types = _names(settings, "sub_types", DEFAULT_SUB_TYPES)
    if not sub_types:
        raise PluginError("cowrie: setting 'sub_types' must name at least one raw sub_type")
    for name in sub_types:
        if not name.isidentifier():
            raise PluginError(f"cowrie: raw sub_type {name!r} is not an identifier")
    return Options(sub_types, frozenset(_names(settings, "telnet_sensors", ())))
