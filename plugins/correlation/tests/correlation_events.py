"""Events shaped like those of the Cowrie and sighting filters, for the correlation tests."""

from __future__ import annotations

from typing import Any

from cybexp_core import Attribute, Event, Object

#: 2020-04-28T00:00:00Z
T0 = 1588032000.0
DAY = 86400.0


def login(ip: str, username: str, password: str, orgid: str = "honeynet", ts: float = T0) -> Event:
    """A Cowrie-shaped login event: credential, success, method, attacker{ip}."""
    ip_attr = Attribute("ipv4", ip)
    attacker = Object("attacker", [ip_attr])
    credential = Object(
        "credential", [Attribute("username", username), Attribute("password", password)]
    )
    return Event(
        "login",
        [credential, Attribute("success", False), Attribute("method", "ssh"), attacker],
        orgid,
        ts,
        mal_data=[credential, ip_attr, attacker],
        category="malicious",
    )


def sighting(
    *indicators: Attribute | Object,
    orgid: str = "feeds",
    ts: float = T0,
    malicious: bool = False,
) -> Event:
    """A sighting-shaped event of ``indicators`` (first one in context)."""
    label = "malicious" if malicious else "unknown"
    return Event(
        "sighting",
        list(indicators),
        orgid,
        ts,
        mal_data=indicators[:1] if malicious else (),
        category=label,
    )


def events_in(session: dict[str, Any], *events: Event) -> set[str]:
    """The hashes of ``events`` found in the session's ``_ref``."""
    return {e._hash for e in events} & set(session["_ref"])
