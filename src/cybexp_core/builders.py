"""Instances that several plugins build the same way (compose these; don't subclass plugins)."""

from __future__ import annotations

from collections.abc import Sequence

from cybexp_core.errors import InputError
from cybexp_core.models import CATEGORIES, Attribute, Child, Event

__all__ = ["scalar_attribute", "sighting_event"]


def sighting_event(
    indicators: Sequence[Child],
    orgid: str,
    timestamp: float,
    *,
    category: str = "unknown",
    context: str = "unknown",
    extra: Sequence[Child] = (),
) -> Event:
    """A TAHOE ``sighting`` event: ``indicators`` were seen at ``timestamp``.

    ``context`` says what the indicators are in this sighting: ``malicious``
    puts them in ``_mal_ref``, ``benign`` in ``_ben_ref``, ``unknown`` in
    neither. ``extra`` children (a feed's record id, say) are part of the event
    but get no context. With one indicator and no extra, the event is the one
    the original CYBEX-P sighting filter made.
    """
    if category not in CATEGORIES:
        raise InputError(f"category must be one of {CATEGORIES}, got {category!r}")
    if context not in CATEGORIES:
        raise InputError(f"context must be one of {CATEGORIES}, got {context!r}")
    if not indicators:
        raise InputError("a sighting needs at least one indicator")
    data = [*indicators, *extra]
    return Event(
        "sighting",
        data,
        orgid,
        timestamp,
        mal_data=indicators if context == "malicious" else (),
        ben_data=indicators if context == "benign" else (),
        category=category,
    )


def scalar_attribute(sub_type: str, value: object, *, where: str = "data") -> Attribute:
    """An attribute from untrusted input, with an :class:`InputError` naming ``where``."""
    if not isinstance(sub_type, str) or not sub_type.isidentifier() or sub_type.startswith("$"):
        raise InputError(f"{where}: key {sub_type!r} is not an identifier", field=where)
    if isinstance(value, (dict, list, tuple)):
        raise InputError(
            f"{where}.{sub_type}: value must be a scalar, got {type(value).__name__}",
            field=f"{where}.{sub_type}",
        )
    return Attribute(sub_type, value)  # type: ignore[arg-type]
