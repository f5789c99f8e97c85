"""The community feed: one URL a line, no times."""

from __future__ import annotations

import pytest

from cybexp_core import Attribute, InputError
from cybexp_core.indicators import host_attribute
from cybexp_core.testing import assert_filter_contract, make_raw, run_filter

FETCHED = 1_544_000_000


def _urls(result) -> dict[str, object]:
    return {event.data["url"][0]: event for event in result.instances}


def test_contract(ingest) -> None:
    assert_filter_contract(
        "openphish",
        ingest("community.txt", timestamp=FETCHED) + ingest("malformed.txt", timestamp=FETCHED),
        bad_documents=[
            *ingest("community.txt"),  # no fetch time
            *ingest("community.txt", timestamp="yesterday"),
            make_raw("openphish_feed", {"feed": "x"}),
            make_raw("openphish_feed", {"data": "# only a comment\nnot a url"}),
        ],
    )


def test_one_malicious_sighting_per_url_at_the_fetch_time(ingest) -> None:
    result = run_filter("openphish", ingest("community.txt", timestamp=FETCHED)[0])
    assert result.problems == ()
    events = _urls(result)
    assert set(events) == {
        "http://login.example.com/secure/verify.php",
        "https://198.51.100.23/webmail/",
        "http://xn--bcher-kva.example/anmelden",
        "https://account.example.net/update?id=1#top",
    }
    assert len(result.instances) == 4  # the duplicate line is the same event
    for url, event in events.items():
        assert event.timestamp == FETCHED
        assert event.category == "malicious"
        assert event._mal_ref == (Attribute("url", url)._hash,)
    assert events["https://198.51.100.23/webmail/"].data["ipv4"] == ["198.51.100.23"]
    punycode = events["http://xn--bcher-kva.example/anmelden"]
    assert punycode.data["domain"] == ["xn--bcher-kva.example"]
    assert (
        host_attribute("login.example.com")._hash
        in events["http://login.example.com/secure/verify.php"]._ref
    )


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(["http://a.example.com/", "", "https://b.example.com/x"]),
        "\r\n".join(["http://a.example.com/", "", "https://b.example.com/x"]) + "\r\n",
        "\ufeffhttp://a.example.com/\n\n\nhttps://b.example.com/x\n",
    ],
    ids=["LF-no-final-newline", "CRLF", "BOM"],
)
def test_line_endings_do_not_change_the_events(text: str) -> None:
    result = run_filter("openphish", make_raw("openphish_feed", {"data": text, "timestamp": 1}))
    assert sorted(_urls(result)) == ["http://a.example.com/", "https://b.example.com/x"]
    assert result.problems == ()


def test_each_malformed_line_is_reported_and_the_rest_processed(ingest) -> None:
    result = run_filter("openphish", ingest("malformed.txt", timestamp=FETCHED)[0])
    reasons = {p.where: p.reason for p in result.problems}
    assert set(reasons) == {f"line {n}" for n in (6, 7, 8, 9, 10, 11, 13, 20, 23)}
    # A TAB means a second column, a NUL a broken file: reported, never silently dropped.
    assert "control character" in reasons["line 6"] and "tab.example.com" in reasons["line 6"]
    assert "control character" in reasons["line 23"]
    assert "needs a scheme" in reasons["line 7"]
    assert "'hxxp'" in reasons["line 8"]
    assert "javascript:alert" in reasons["line 10"] and "data:text/html" in reasons["line 11"]
    assert "Port out of range" in reasons["line 13"]
    assert "invalid host name" in reasons["line 20"]
    events = _urls(result)
    assert set(events) == {
        "http://control.example.com/ok",
        "http://spaces.example.com/",
        "http://paypal.example.com@203.0.113.9/login",
        "http://192.168.1.1/",  # listed as http://3232235777/
        "http://[2001:db8::7]:8080/x",
        "http://xn--bcher-kva.example/anmelden",  # listed as http://bücher.example/anmelden
        "http://example.com/a b c",
        "http://example.com/%zz%",
        "http://trailing.example.com/",  # listed as http://trailing.example.com./
        "http://crlf.example.com/",
    }
    # The userinfo trick: the host is the IP address, not the brand before the '@'.
    assert events["http://paypal.example.com@203.0.113.9/login"].data["ipv4"] == ["203.0.113.9"]
    assert events["http://[2001:db8::7]:8080/x"].data["ipv6"] == ["2001:db8::7"]
    assert events["http://xn--bcher-kva.example/anmelden"].data["domain"] == [
        "xn--bcher-kva.example"
    ]
    assert events["http://trailing.example.com/"].data["domain"] == ["trailing.example.com"]
    # Lines 21 (a copy) and 22 (scheme and host upper-case) are the same event as line 1.
    assert len(result.instances) == len(events) == 10


def test_a_decimal_ipv4_host_is_the_ip_address_browsers_open(ingest) -> None:
    result = run_filter("openphish", ingest("malformed.txt", timestamp=FETCHED)[0])
    (event,) = [e for e in result.instances if e.data["url"] == ["http://192.168.1.1/"]]
    assert event.data["ipv4"] == ["192.168.1.1"]
    assert "domain" not in event.data
    assert host_attribute("3232235777") == Attribute("ipv4", "192.168.1.1")
    assert Attribute("ipv4", "192.168.1.1")._hash in event._ref


def test_the_same_url_written_differently_is_one_event() -> None:
    text = "\n".join(
        [
            "http://bücher.example/a",
            "http://xn--bcher-kva.example/a",
            "http://BÜCHER.example./a",
            "http://0xC0.0xA8.1.1/b",
            "http://3232235777/b",
            "http://[::ffff:192.168.1.1]/b",
        ]
    )
    result = run_filter("openphish", make_raw("openphish_feed", {"data": text, "timestamp": 1}))
    assert result.problems == ()
    assert sorted(_urls(result)) == ["http://192.168.1.1/b", "http://xn--bcher-kva.example/a"]


def test_a_file_that_is_not_utf8(tmp_path, ingest) -> None:
    path = tmp_path / "feed.txt"
    path.write_bytes(
        b"http://caf\xc3\xa9.example.com/\nhttp://bad.example.com/\xff\nhttp://ok.example/"
    )
    (doc,) = ingest(path, timestamp=FETCHED)
    assert doc["data"]["encoding"] == "latin-1"
    result = run_filter("openphish", doc)
    assert sorted(_urls(result)) == ["http://ok.example/", "http://xn--caf-dma.example.com/"]
    assert [(p.where, p.reason) for p in result.problems] == [
        ("line 2", "the line is not valid UTF-8")
    ]


def test_missing_fetch_time_is_a_clear_failure(ingest) -> None:
    with pytest.raises(InputError, match=r"data\.timestamp .*ingest --format file --timestamp"):
        run_filter("openphish", ingest("community.txt")[0])
