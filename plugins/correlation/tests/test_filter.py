"""The correlation filter on single events, through its installed entry point (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from correlation_events import T0, login, sighting

from cybexp_core import Attribute, Event, Object, PluginError, Session
from cybexp_core.testing import assert_filter_contract, load_filter, run_filter


def stored(event: Event) -> dict[str, Any]:
    """The event document as the archive stores it (and the runner passes it)."""
    return {**event.doc, "filters": ["some-other-filter"]}


def indicators(result: Any) -> list[tuple[str, Any]]:
    """(sub_type, data) of the identity of each session made."""
    out = []
    for session in result.instances:
        assert isinstance(session, Session) and session.sub_type == "correlation"
        (child,) = session.children
        out.append((child.sub_type, child.data if isinstance(child, Attribute) else child._hash))
    return out


def test_contract() -> None:
    url = Attribute("url", "http://malware.example.org/x.sh")
    good = [
        stored(login("198.51.100.7", "admin", "Zx81!secret")),
        stored(sighting(url, Attribute("domain", "malware.example.org"), malicious=True)),
    ]
    no_time = {**stored(sighting(url)), "timestamp": "yesterday"}
    no_hash = {k: v for k, v in stored(sighting(url)).items() if k != "_hash"}
    assert_filter_contract("correlation", good, bad_documents=[no_time, no_hash])


def test_declares_it_reads_every_event() -> None:
    info = load_filter("correlation").info
    assert [(c.itype, c.sub_type) for c in info.consumes] == [("event", None)]


def test_one_session_per_indicator_holding_the_event() -> None:
    event = login("198.51.100.7", "admin", "Zx81!secret", ts=T0 + 5)
    result = run_filter("correlation", stored(event))
    credential = next(c for c in event.children if c.sub_type == "credential")
    # One session per indicator; their order follows the event's canonical data order.
    assert sorted(indicators(result)) == [
        ("credential", credential._hash),
        ("ipv4", "198.51.100.7"),
    ]
    for session in result.instances:
        assert session.events == (event._hash,)
        assert session.start_time == session.end_time == T0 + 5
        (child,) = session.children
        assert child._hash in event._ref  # the very instance the event holds
        assert event._hash in session.doc["_ref"]
    assert not result.problems


def test_not_indicators_are_not_correlated() -> None:
    event = Event(
        "note",
        [Attribute("success", True), Attribute("country", "US"), Attribute("asn", 64500)],
        "org",
        T0,
    )
    result = run_filter("correlation", stored(event))
    assert result is not None and result.instances == ()


@pytest.mark.parametrize(
    "indicator",
    [
        Attribute("ipv4", "10.1.2.3"),
        Attribute("ipv4", "192.168.0.1"),
        Attribute("ipv4", "127.0.0.1"),
        Attribute("ipv6", "fe80::1"),
        Attribute("ipv6", "::ffff:192.168.1.1"),
        Attribute("domain", "localhost"),
    ],
)
def test_local_addresses_and_stop_values_are_not_correlated(indicator: Attribute) -> None:
    result = run_filter("correlation", stored(sighting(indicator)))
    assert result is not None and result.instances == ()


def test_common_credentials_are_not_correlated_rare_ones_are() -> None:
    common = run_filter("correlation", stored(login("198.51.100.7", "root", "123456")))
    rare = run_filter("correlation", stored(login("198.51.100.7", "root", "Zx81!secret")))
    assert [k for k, _ in indicators(common)] == ["ipv4"]
    assert sorted(k for k, _ in indicators(rare)) == ["credential", "ipv4"]


def test_documentation_addresses_are_kept() -> None:
    """Examples and tests use 192.0.2/24, 198.51.100/24, 203.0.113/24 as public addresses."""
    result = run_filter("correlation", stored(sighting(Attribute("ipv4", "203.0.113.77"))))
    assert indicators(result) == [("ipv4", "203.0.113.77")]


def test_settings_choose_indicators_and_stop_values() -> None:
    event = sighting(
        Attribute("ipv4", "198.51.100.9"),
        Attribute("domain", "corp.example"),
        Attribute("username", "deploy-bot"),
        Attribute("url", "http://corp.example/a"),
    )
    settings = {
        "attributes": ["ipv4", "domain", "username"],
        "stop_values": {"domain": ["CORP.example"]},
        "stop_networks": ["198.51.100.0/24"],
    }
    result = run_filter("correlation", stored(event), settings)
    assert indicators(result) == [("username", "deploy-bot")]


def test_username_stop_list_applies_when_usernames_are_indicators() -> None:
    event = sighting(Attribute("username", "root"), Attribute("username", "svc-backup-7"))
    result = run_filter("correlation", stored(event), {"attributes": ["username"]})
    assert indicators(result) == [("username", "svc-backup-7")]


def test_per_event_limit_keeps_the_first_and_reports_the_rest() -> None:
    urls = [Attribute("url", f"http://phish.example.org/{n}") for n in range(5)]
    result = run_filter("correlation", stored(sighting(*urls)), {"max_indicators_per_event": 3})
    assert [v for _, v in indicators(result)] == [u.data for u in urls[:3]]
    (problem,) = result.problems
    assert "5 indicators" in problem.reason and "3" in problem.reason


def test_values_missing_from_ref_are_skipped_with_a_problem() -> None:
    doc = stored(sighting(Attribute("ipv4", "198.51.100.7"), Attribute("url", "http://a.example/")))
    doc["data"] = {**doc["data"], "url": ["http://edited.example/"]}
    result = run_filter("correlation", doc)
    assert indicators(result) == [("ipv4", "198.51.100.7")]
    (problem,) = result.problems
    assert problem.where == "data.url" and "_ref" in problem.reason


def test_indicators_inside_objects_and_duplicates_once() -> None:
    ip = Attribute("ipv4", "198.51.100.7")
    event = Event(
        "email_indicators",
        [
            Object("network", [ip, Attribute("asn", 64500)]),
            Object("src", [Attribute("email_addr", "x@phish.example"), ip]),
            Object("file", [Attribute("filename", "a.exe"), Attribute("sha256", "ab" * 32)]),
        ],
        "org",
        T0,
    )
    result = run_filter("correlation", stored(event))
    assert sorted(indicators(result)) == [
        ("email_addr", "x@phish.example"),
        ("ipv4", "198.51.100.7"),
        ("sha256", "ab" * 32),
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"attributes": "ipv4"},
        {"max_indicators_per_event": 0},
        {"stop_networks": ["not-a-network"]},
        {"stop_values": {"domain": "x"}},
        {"no_such_setting": 1},
    ],
)
def test_bad_settings_fail_at_load(settings: dict[str, Any]) -> None:
    with pytest.raises(PluginError, match="correlation"):
        load_filter("correlation", settings)
