"""The filter's settings (section ``filters.correlation`` of the configuration)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from cybexp_core import PluginError
from cybexp_core.indicators import INDICATOR_TYPES

__all__ = [
    "DEFAULT_ATTRIBUTES",
    "DEFAULT_COMMON_PASSWORDS",
    "DEFAULT_OBJECTS",
    "DEFAULT_STOP_NETWORKS",
    "DEFAULT_STOP_VALUES",
    "Options",
]

#: Attribute sub_types that identify something (an address, a file, a mailbox).
DEFAULT_ATTRIBUTES = INDICATOR_TYPES
#: Object sub_types correlated as a whole (a username/password pair).
DEFAULT_OBJECTS = ("credential",)
#: Networks whose addresses mean a different machine in every organisation.
#: The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
#: 2001:db8::/32) are *not* here: examples and tests use them as public addresses.
DEFAULT_STOP_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)
#: Values that every organisation sees and that therefore link nothing.
DEFAULT_STOP_VALUES: Mapping[str, tuple[str, ...]] = {
    "domain": ("localhost", "localhost.localdomain", "localdomain"),
    "username": (
        "root",
        "admin",
        "administrator",
        "user",
        "test",
        "guest",
        "ubuntu",
        "pi",
        "oracle",
        "postgres",
        "support",
        "ftp",
    ),
}
#: A credential whose secret is one of these is tried by every bot: not a correlation.
DEFAULT_COMMON_PASSWORDS = (
    "",
    "0",
    "1",
    "123",
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "111111",
    "000000",
    "password",
    "password1",
    "passw0rd",
    "qwerty",
    "abc123",
    "admin",
    "admin123",
    "administrator",
    "root",
    "toor",
    "test",
    "guest",
    "user",
    "default",
    "changeme",
    "letmein",
    "pass",
    "support",
    "ubuntu",
    "raspberry",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _names(settings: Mapping[str, Any], key: str, default: tuple[str, ...]) -> frozenset[str]:
    value = settings.get(key, default)
    if isinstance(value, str) or not all(isinstance(v, str) and v.isidentifier() for v in value):
        raise PluginError(f"correlation: setting {key} must be a list of sub_type names")
    return frozenset(value)


def _positive(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PluginError(f"correlation: setting {key} must be a positive int, got {value!r}")
    return value


def _strings(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PluginError(f"correlation: setting {key} must be a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise PluginError(f"correlation: setting {key} must be a list of strings")
    return tuple(value)


def _stop_values(settings: Mapping[str, Any], use_defaults: bool) -> dict[str, frozenset[str]]:
    given = settings.get("stop_values", {})
    if not isinstance(given, Mapping):
        raise PluginError("correlation: setting stop_values must map sub_types to value lists")
    merged: dict[str, set[str]] = {}
    if use_defaults:
        for key, values in DEFAULT_STOP_VALUES.items():
            merged.setdefault(key, set()).update(values)
    for key, values in given.items():
        merged.setdefault(str(key), set()).update(
            v.strip().lower() for v in _strings(f"stop_values.{key}", values)
        )
    return {key: frozenset(values) for key, values in merged.items()}


def _networks(settings: Mapping[str, Any], use_defaults: bool) -> tuple[Network, ...]:
    default = DEFAULT_STOP_NETWORKS if use_defaults else ()
    value = settings.get("stop_networks", default)
    try:
        return tuple(
            ipaddress.ip_network(n, strict=False) for n in _strings("stop_networks", value)
        )
    except ValueError as exc:
        raise PluginError(f"correlation: setting stop_networks: {exc}") from exc


@frozen
class Options:
    """What is an indicator, which values are stopped, and the two limits."""

    #: Attribute sub_types that are indicators.
    attributes: frozenset[str]
    #: Object sub_types that are indicators as a whole.
    objects: frozenset[str]
    #: Attribute values never correlated, per sub_type (compared lower-case).
    stop_values: Mapping[str, frozenset[str]]
    #: IP networks never correlated.
    stop_networks: tuple[Network, ...]
    #: Credentials whose every secret is one of these are not correlated.
    common_passwords: frozenset[str]
    #: Indicators correlated per event; the rest are reported as a problem.
    max_indicators_per_event: int
    #: Events kept per indicator (needs the backend's session cap, see README).
    max_events_per_indicator: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Options:
        """Read the settings; a bad one raises :class:`PluginError` naming it."""
        known = {
            "attributes",
            "objects",
            "stop_values",
            "stop_networks",
            "common_passwords",
            "default_stop_list",
            "max_indicators_per_event",
            "max_events_per_indicator",
        }
        unknown = set(settings) - known
        if unknown:
            raise PluginError(f"correlation: unknown settings {sorted(unknown)}")
        defaults = settings.get("default_stop_list", True)
        if not isinstance(defaults, bool):
            raise PluginError("correlation: setting default_stop_list must be true or false")
        passwords = settings.get("common_passwords", DEFAULT_COMMON_PASSWORDS if defaults else ())
        return cls(
            attributes=_names(settings, "attributes", DEFAULT_ATTRIBUTES),
            objects=_names(settings, "objects", DEFAULT_OBJECTS),
            stop_values=_stop_values(settings, defaults),
            stop_networks=_networks(settings, defaults),
            common_passwords=frozenset(
                v.strip().lower() for v in _strings("common_passwords", passwords)
            ),
            max_indicators_per_event=_positive(settings, "max_indicators_per_event", 100),
            max_events_per_indicator=_positive(settings, "max_events_per_indicator", 10_000),
        )
