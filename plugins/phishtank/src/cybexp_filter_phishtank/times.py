"""PhishTank's times: ISO 8601 with an offset, e.g. ``2019-05-15T19:26:26+00:00``."""

from __future__ import annotations

from datetime import datetime

from cybexp_core import InputError


def iso_time(value: object, name: str) -> float:
    """Epoch seconds of the ISO 8601 time ``value`` of field ``name``.

    :raises InputError: If it is not ISO 8601 or has no UTC offset.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} is missing")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InputError(f"{name} {text[:60]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InputError(f"{name} {text[:60]!r} has no UTC offset")
    return moment.timestamp()
