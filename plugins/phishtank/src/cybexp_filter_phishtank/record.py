"""One PhishTank record (a CSV row or a JSON object) as a ``sighting`` event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Attribute, Event, InputError, Object
from cybexp_core.builders import sighting_event
from cybexp_core.indicators import url_attributes
from cybexp_filter_phishtank.network import network_object
from cybexp_filter_phishtank.times import iso_time

#: Schemes of PhishTank URLs (the 2019 dump has three ftp:// phishes).
SCHEMES = ("http", "https", "ftp")
#: PhishTank's "no particular brand"; kept out so it does not link every phish together.
NO_TARGET = "other"


def phish_url(value: object) -> tuple[Attribute, Attribute]:
    """``(url, host)`` attributes of a PhishTank URL (http, https or ftp).

    :raises InputError: If it is missing or not a usable URL
        (see :func:`cybexp_core.indicators.url_attributes`).
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError("url is missing")
    return url_attributes(value, SCHEMES)


def _phish_id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise InputError(f"phish_id {str(value)[:40]!r} is not a number")


def _verified(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in ("yes", "no"):
        raise InputError(f"verified must be yes or no, got {str(value)[:40]!r}")
    return text == "yes"


def _phishtank_object(record: Mapping[str, Any], verified: bool, notes: list[str]) -> Object:
    children = [
        Attribute("phishtank_id", _phish_id(record.get("phish_id"))),
        Attribute("verified", verified),
    ]
    checked = record.get("verification_time")
    if verified and checked not in (None, ""):
        try:
            children.append(Attribute("verification_time", iso_time(checked, "verification_time")))
        except InputError as exc:
            notes.append(f"{exc}; dropped")
    return Object("phishtank", children)


def phish_sighting(record: Mapping[str, Any], orgid: str) -> tuple[Event, list[str]]:
    """The sighting of one phish at its ``submission_time``, and notes on dropped fields.

    The URL is malicious (``_mal_ref``, category malicious) when PhishTank has
    verified it, unknown otherwise. The host, a ``phishtank`` object (id,
    verified, verification_time), ``target`` as ``phish_target`` and one
    ``network`` object per ``details`` entry are part of the event.

    :raises InputError: If phish_id, url, submission_time or verified is
        missing or invalid.
    """
    notes: list[str] = []
    url, host = phish_url(record.get("url"))
    timestamp = iso_time(record.get("submission_time"), "submission_time")
    # The 4-column CSV variant has no verified column: not known to be verified.
    verified = _verified(record.get("verified")) if "verified" in record else False
    extra: list[Attribute | Object] = [host, _phishtank_object(record, verified, notes)]
    target = record.get("target")
    if isinstance(target, str) and target.strip() and target.strip().lower() != NO_TARGET:
        extra.append(Attribute("phish_target", target.strip()))
    details = record.get("details")
    if isinstance(details, list):
        for detail in details:
            network, dropped = network_object(detail)
            notes.extend(dropped)
            if network is not None:
                extra.append(network)
    elif details is not None:
        notes.append(f"details must be a list, not {type(details).__name__}; dropped")
    label = "malicious" if verified else "unknown"
    event = sighting_event([url], orgid, timestamp, category=label, context=label, extra=extra)
    return event, notes
