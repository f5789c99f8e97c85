"""The correlation filter under ``run --once`` against the real server (the ``archive`` kit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from correlation_events import DAY, T0, events_in, login, sighting

from cybexp_core import Attribute, Consumes
from cybexp_core.backend import Archive
from cybexp_filter_correlation import FILTER_ID

ATTACKER = "198.51.100.7"
PHISH_URL = f"http://{ATTACKER}/office365/login.html"


def test_three_sources_share_an_address(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any], session_of: Any
) -> None:
    """A honeypot login, a PhishTank-like sighting of a URL on the attacker's address and
    another organisation's sighting of that address end up in one session."""
    ip = Attribute("ipv4", ATTACKER)
    honeypot = login(ATTACKER, "admin", "Zx81!secret", orgid="honeynet", ts=T0 + 3 * DAY)
    phish = sighting(
        Attribute("url", PHISH_URL), ip, orgid="phishtank", ts=T0 + 1 * DAY, malicious=True
    )
    partner = sighting(ip, Attribute("ipv4", "10.0.0.8"), orgid="partner-soc", ts=T0 + 2 * DAY)
    unrelated = sighting(Attribute("ipv4", "198.51.100.99"), orgid="partner-soc", ts=T0)
    store([honeypot, phish, partner, unrelated])

    summary = correlate()

    assert summary.filters["correlation"].processed == 4
    session = session_of(ip)
    assert session is not None
    assert events_in(session, honeypot, phish, partner, unrelated) == {
        honeypot._hash,
        phish._hash,
        partner._hash,
    }
    assert session["start_time"] == T0 + DAY and session["end_time"] == T0 + 3 * DAY
    assert session["data"] == {"ipv4": [ATTACKER]}
    # the URL and the lone address correlate one event each; the private address none
    assert events_in(session_of(Attribute("url", PHISH_URL)), phish) == {phish._hash}
    assert session_of(Attribute("ipv4", "10.0.0.8")) is None
    # events are not written to (progress is a checkpoint): their TAHOE _ref is untouched
    stored = archive.collection.find_one({"_hash": partner._hash})
    assert "filters" not in stored and stored["_ref"] == partner.doc["_ref"]
    assert archive.progress(FILTER_ID, [Consumes("event")]).processed == 4
    # front-end query: every correlation holding the address, by its attribute hash
    found = list(archive.collection.find({"itype": "session", "_ref": ip._hash}))
    assert [d["sub_type"] for d in found] == ["correlation"]


def test_new_events_join_existing_correlations(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any], session_of: Any
) -> None:
    ip = Attribute("ipv4", ATTACKER)
    first = [sighting(ip, orgid=f"org{n}", ts=T0 + n * DAY) for n in range(3)]
    store(first)
    assert correlate().filters["correlation"].processed == 3
    before = session_of(ip)

    late = sighting(ip, Attribute("domain", "cdn.example.org"), orgid="late", ts=T0 - DAY)
    store([late])
    summary = correlate()

    # only the new event is processed: history is not recomputed
    assert summary.filters["correlation"].processed == 1
    after = session_of(ip)
    assert after["_id"] == before["_id"]
    assert events_in(after, *first, late) == {e._hash for e in [*first, late]}
    assert after["start_time"] == T0 - DAY and after["end_time"] == T0 + 2 * DAY
    # running again changes nothing
    sessions = archive.count({"itype": "session"})
    assert correlate().filters["correlation"].handled == 0
    assert archive.count({"itype": "session"}) == sessions
    assert session_of(ip)["_ref"] == after["_ref"]


def test_reprocessing_an_event_adds_nothing(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any], session_of: Any
) -> None:
    """A crash before the progress is recorded: the runner offers an event again, same session."""
    ip = Attribute("ipv4", ATTACKER)
    events = [sighting(ip, orgid="a"), sighting(ip, orgid="b")]
    store(events)
    correlate()
    refs = session_of(ip)["_ref"]
    assert archive.forget_done(FILTER_ID, [Consumes("event")]) == 2
    assert correlate().filters["correlation"].processed == 2
    assert session_of(ip)["_ref"] == refs


def test_frequency_cut_off(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any], session_of: Any
) -> None:
    """An indicator seen in more than max_events_per_indicator events stops growing and is
    marked saturated; a rarer indicator of the same events is unaffected."""
    common = Attribute("domain", "update.example.com")
    events = [
        sighting(common, Attribute("ipv4", f"198.51.100.{n}"), orgid=f"org{n}", ts=T0 + n)
        for n in range(1, 8)
    ]
    rare = sighting(Attribute("ipv4", "198.51.100.1"), orgid="other", ts=T0)
    store(events[:2])
    correlate({"max_events_per_indicator": 3})
    store([*events[2:], rare])
    correlate({"max_events_per_indicator": 3})

    session = session_of(common)
    members = events_in(session, *events)
    assert len(members) == 3
    assert session["saturated"] is True
    assert session["end_time"] == T0 + 7  # times are still merged
    assert len(session["_ref"]) == 1 + 3  # identity + cap
    assert events_in(session_of(Attribute("ipv4", "198.51.100.1")), events[0], rare) == {
        events[0]._hash,
        rare._hash,
    }
    assert "saturated" not in session_of(Attribute("ipv4", "198.51.100.2"))
