"""One record of the OpenPhish commercial feed (a JSON object per line)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cybexp_core import Attribute, Event, InputError, Object
from cybexp_core.indicators import normalize_host
from cybexp_filter_openphish.community import url_sighting
from cybexp_filter_openphish.details import openphish_object

#: OpenPhish's ``isotime``: ``2018-02-06T15:16:06Z``.
ISOTIME = "%Y-%m-%dT%H:%M:%S%z"


def _time(value: object) -> float:
    if not isinstance(value, str):
        raise InputError("the record has no 'isotime' (the time OpenPhish saw the URL)")
    try:
        return datetime.strptime(value.strip(), ISOTIME).timestamp()
    except ValueError:
        raise InputError(f"isotime {value[:60]!r} is not like 2018-02-06T15:16:06Z") from None


def _network(record: Mapping[str, Any]) -> tuple[Object | None, list[str]]:
    """The ``network`` object (ip, asn, country) of the hosting, and notes on dropped fields."""
    ip = record.get("ip")
    if ip in (None, ""):
        return None, []
    try:
        kind, address = normalize_host(str(ip))
    except InputError:
        kind, address = "domain", ""
    if kind == "domain":
        return None, [f"ip {str(ip)[:60]!r} is not an IP address; hosting details dropped"]
    children: list[Attribute] = [Attribute(kind, address)]
    notes = []
    asn = record.get("asn")
    if asn not in (None, ""):
        digits = str(asn).strip().upper().removeprefix("AS")
        if digits.isdigit():
            children.append(Attribute("asn", int(digits)))
        else:
            notes.append(f"asn {str(asn)[:40]!r} is not an AS number; dropped")
    country = record.get("country_code")
    if isinstance(country, str) and len(country.strip()) == 2 and country.strip().isalpha():
        children.append(Attribute("country", country.strip().upper()))
    elif country not in (None, ""):
        notes.append(f"country_code {str(country)[:40]!r} is not a two-letter code; dropped")
    return Object("network", children), notes


def record_sighting(record: Mapping[str, Any], orgid: str) -> tuple[Event, list[str]]:
    """A malicious sighting of ``record["url"]`` at ``isotime``, and notes on dropped fields.

    Kept: the URL and its host, ``brand`` as ``phish_target``, ``ip``,
    ``asn``, ``country_code`` as a ``network`` object, and the other fields in
    an ``openphish`` object (:mod:`cybexp_filter_openphish.details`).

    :raises InputError: If the URL or the time is missing or invalid.
    """
    url = record.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InputError("the record has no 'url'")
    timestamp = _time(record.get("isotime"))
    extra: list[Attribute | Object] = []
    brand = record.get("brand")
    if isinstance(brand, str) and brand.strip():
        extra.append(Attribute("phish_target", brand.strip()))
    network, notes = _network(record)
    if network is not None:
        extra.append(network)
    details, dropped = openphish_object(record)
    notes.extend(dropped)
    if details is not None:
        extra.append(details)
    return url_sighting(url, orgid, timestamp, extra), notes
