"""Generic sightings through the installed entry point."""

from __future__ import annotations

import pytest

from cybexp_core import Attribute, InputError
from cybexp_core.indicators import host_attribute
from cybexp_core.testing import assert_filter_contract, make_raw, run_filter

TS = 1_600_000_000


def _sighted_key(data: dict) -> str:
    """The key a sighting event was made for (a URL event also lists its domain)."""
    return "url" if "url" in data else next(iter(data))


def _raw(**data: object) -> dict:
    return make_raw("sighting", data)


def _only(result):
    (event,) = result.instances
    return event


def test_contract() -> None:
    assert_filter_contract(
        "sighting",
        [
            _raw(ipv4="192.0.2.1", timestamp=TS),
            _raw(domain="example.com", url="http://example.com/x", timestamp=TS, context="benign"),
            _raw(ipv4="192.0.2.1", **{"$where": "1"}, timestamp=TS),
        ],
        bad_documents=[
            _raw(ipv4="192.0.2.1"),  # no timestamp
            _raw(ipv4="192.0.2.1", timestamp="2020-01-01"),
            _raw(ipv4="192.0.2.1", timestamp=True),
            _raw(ipv4="192.0.2.1", timestamp=TS, category="evil"),
            _raw(ipv4="192.0.2.1", timestamp=TS, context="bad"),
            _raw(timestamp=TS),  # nothing sighted
            _raw(**{"$set": 1, "a-b": 2}, timestamp=TS),  # only rejected keys
            make_raw("sighting", ["192.0.2.1"]),
        ],
    )


def test_one_event_per_value_with_the_time_of_the_sighting() -> None:
    result = run_filter(
        "sighting", _raw(ipv4="192.0.2.1", email_addr="x@example.com", port=22, timestamp=TS)
    )
    assert result.problems == ()
    assert sorted(tuple(e.data) for e in result.instances) == [
        ("email_addr",),
        ("ipv4",),
        ("port",),
    ]
    for event in result.instances:
        assert event.sub_type == "sighting"
        assert event.timestamp == TS
        assert event.category == "unknown"
        assert event._mal_ref == event._ben_ref == ()


@pytest.mark.parametrize(("context", "field"), [("malicious", "_mal_ref"), ("benign", "_ben_ref")])
def test_the_caller_says_what_the_attribute_is(context: str, field: str) -> None:
    event = _only(
        run_filter(
            "sighting", _raw(ipv4="192.0.2.1", timestamp=TS, context=context, category=context)
        )
    )
    assert event.category == context
    assert getattr(event, field) == (Attribute("ipv4", "192.0.2.1")._hash,)
    other = "_ben_ref" if field == "_mal_ref" else "_mal_ref"
    assert getattr(event, other) == ()


def test_category_and_context_are_independent() -> None:
    event = _only(
        run_filter("sighting", _raw(domain="example.com", timestamp=TS, category="malicious"))
    )
    assert event.category == "malicious" and event._mal_ref == ()


def test_bad_keys_are_rejected_with_a_reason_and_good_ones_kept() -> None:
    result = run_filter(
        "sighting",
        _raw(
            ipv4="192.0.2.1",
            **{"$set": "x", "not-an-identifier": "y", "": "z"},
            nested={"a": 1},
            listed=[1, 2],
            empty="  ",
            nothing=None,
            timestamp=TS,
        ),
    )
    assert [e.data for e in result.instances] == [{"ipv4": ["192.0.2.1"]}]
    reasons = {p.where: p.reason for p in result.problems}
    assert set(reasons) == {
        "data.$set",
        "data.not-an-identifier",
        "data.",
        "data.nested",
        "data.listed",
        "data.empty",
        "data.nothing",
    }
    assert "not an identifier" in reasons["data.$set"]
    assert "scalar" in reasons["data.nested"] and "scalar" in reasons["data.listed"]
    assert "empty" in reasons["data.empty"] and "empty" in reasons["data.nothing"]


def test_urls_and_hosts_are_normalised_like_every_plugin_does() -> None:
    result = run_filter(
        "sighting",
        _raw(
            url=" HTTP://Login.Example.COM/Path ",
            ipv6="2001:DB8:0::1",
            domain="Example.NET.",
            timestamp=TS,
        ),
    )
    by_key = {_sighted_key(e.data): e for e in result.instances}
    url_event = by_key["url"]
    assert url_event.data == {
        "url": ["http://login.example.com/Path"],
        "domain": ["login.example.com"],
    }
    assert host_attribute("login.example.com")._hash in url_event._ref
    assert by_key["ipv6"].data == {"ipv6": ["2001:db8::1"]}
    assert by_key["domain"].data == {"domain": ["example.net"]}


def test_a_value_of_the_wrong_kind_is_rejected() -> None:
    result = run_filter(
        "sighting", _raw(domain="192.0.2.1", ipv4="example.com", port=1, timestamp=TS)
    )
    assert [e.data for e in result.instances] == [{"port": [1]}]
    reasons = {p.where: p.reason for p in result.problems}
    assert "not of type domain" in reasons["data.domain"]
    assert "not of type ipv4" in reasons["data.ipv4"]


def test_missing_timestamp_is_refused_never_the_clock() -> None:
    with pytest.raises(InputError, match="timestamp is missing"):
        run_filter("sighting", _raw(ipv4="192.0.2.1"))


def test_urls_from_any_source_meet_on_the_same_attributes() -> None:
    result = run_filter(
        "sighting",
        _raw(
            url="http://Bücher.Example./a",
            ipv4="3232235777",
            timestamp=TS,
        ),
    )
    assert result.problems == ()
    by_key = {_sighted_key(e.data): e.data for e in result.instances}
    assert by_key["url"] == {
        "url": ["http://xn--bcher-kva.example/a"],
        "domain": ["xn--bcher-kva.example"],
    }
    assert by_key["ipv4"] == {"ipv4": ["192.168.1.1"]}  # the address browsers open


def test_an_ipv4_mapped_address_is_an_ipv4_not_an_ipv6_value() -> None:
    result = run_filter("sighting", _raw(ipv6="::ffff:192.0.2.1", port=1, timestamp=TS))
    ((where, reason),) = [(p.where, p.reason) for p in result.problems]
    assert where == "data.ipv6" and "it is ipv4" in reason


def test_a_control_character_in_a_url_is_reported_not_removed() -> None:
    result = run_filter(
        "sighting", _raw(url="http://tab.example.com/a\tb", port=1, timestamp=TS)
    )
    assert [e.data for e in result.instances] == [{"port": [1]}]
    ((where, reason),) = [(p.where, p.reason) for p in result.problems]
    assert where == "data.url" and "control characters" in reason


def test_a_huge_key_or_value_is_reported() -> None:
    result = run_filter(
        "sighting",
        _raw(ipv4="192.0.2.1", url="x" * 100_000, **{"k" * 10_000 + "-": 1}, timestamp=TS),
    )
    assert [e.data for e in result.instances] == [{"ipv4": ["192.0.2.1"]}]
    reasons = {p.where[:7]: p.reason for p in result.problems}
    assert set(reasons) == {"data.ur", "data.kk"}
    assert "scheme and a host" in reasons["data.ur"]
    assert "not an identifier" in reasons["data.kk"]
