"""A PhishTank ``details[]`` entry as a ``network`` object (where the phish was hosted)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from cybexp_core import Attribute, InputError, Object
from cybexp_core.indicators import normalize_host
from cybexp_filter_phishtank.times import iso_time


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def network_object(detail: object) -> tuple[Object | None, list[str]]:
    """``network``{ip, cidr, asn, rir, country, detail_time} and notes on dropped fields.

    A detail without a valid ``ip_address`` is dropped whole; another invalid
    field is left out of the object.
    """
    if not isinstance(detail, Mapping):
        return None, [f"a details entry must be an object, not {type(detail).__name__}; dropped"]
    ip = _text(detail.get("ip_address"))
    try:
        kind, address = normalize_host(ip) if ip else ("", "")
    except InputError:
        kind = ""
    if kind not in ("ipv4", "ipv6"):
        return None, [f"details ip_address {ip[:60]!r} is not an IP address; entry dropped"]
    children = [Attribute(kind, address)]
    notes: list[str] = []
    _optional(detail, children, notes)
    return Object("network", children), notes


def _optional(detail: Mapping[str, Any], children: list[Attribute], notes: list[str]) -> None:
    cidr = _text(detail.get("cidr_block"))
    if cidr:
        try:
            children.append(Attribute("cidr", ipaddress.ip_network(cidr, strict=False).compressed))
        except ValueError:
            notes.append(f"details cidr_block {cidr[:60]!r} is not a network; dropped")
    asn = _text(detail.get("announcing_network")).upper().removeprefix("AS")
    if asn:
        if asn.isdigit():
            children.append(Attribute("asn", int(asn)))
        else:
            notes.append(f"details announcing_network {asn[:40]!r} is not an AS number; dropped")
    rir = _text(detail.get("rir")).lower()
    if rir:
        children.append(Attribute("rir", rir))
    country = _text(detail.get("country"))
    if len(country) == 2 and country.isalpha():
        children.append(Attribute("country", country.upper()))
    elif country:
        notes.append(f"details country {country[:40]!r} is not a two-letter code; dropped")
    seen = _text(detail.get("detail_time"))
    if seen:
        try:
            children.append(Attribute("detail_time", iso_time(seen, "detail_time")))
        except InputError as exc:
            notes.append(f"{exc}; dropped")
