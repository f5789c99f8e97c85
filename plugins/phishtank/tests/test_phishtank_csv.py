"""The CSV dump through the installed entry point."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cybexp_core import Attribute, Event, InputError
from cybexp_core.indicators import host_attribute
from cybexp_core.testing import assert_filter_contract, make_raw, run_filter

DATA = Path(__file__).parent / "data"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _by_url(result) -> dict[str, Event]:
    return {event.data["url"][0]: event for event in result.instances}


def test_contract(ingest) -> None:
    assert_filter_contract(
        "phishtank",
        ingest("online-valid.csv") + ingest("malformed.csv") + ingest("dump.json"),
        bad_documents=[
            {"itype": "raw", "sub_type": "phishtank_feed", "data": {"x": 1}, "orgid": "o"},
            {"itype": "raw", "sub_type": "phishtank_feed", "data": "text", "orgid": "o"},
            *ingest("urls.txt"),  # a bare URL list without data.timestamp
        ],
    )


def test_rows_become_sightings_with_phishtank_data(ingest) -> None:
    (doc,) = ingest("online-valid.csv")  # UTF-8 BOM, CRLF, quoted field, no final newline
    result = run_filter("phishtank", doc)
    assert result.problems == ()
    events = _by_url(result)
    assert set(events) == {
        "http://login.example.com/account/verify.php",
        "https://198.51.100.7/secure/",
        "ftp://files.example.net/invoice.html",
        "http://shop.example.org/a%20b/index.html?x=1",
    }
    first = events["http://login.example.com/account/verify.php"]
    assert first.timestamp == _epoch("2021-03-14T07:31:24+00:00")
    assert first.category == "malicious"
    assert first.data["phishtank"] == [
        {
            "phishtank_id": [9000001],
            "verified": [True],
            "verification_time": [_epoch("2021-03-14T07:36:16+00:00")],
        }
    ]
    assert first.data["phish_target"] == ["PayPal"]
    url = Attribute("url", "http://login.example.com/account/verify.php")
    assert first._mal_ref == (url._hash,)  # the URL is malicious, its host is not judged
    assert host_attribute("login.example.com")._hash in first._ref
    quoted = events["https://198.51.100.7/secure/"]
    assert quoted.data["phish_target"] == ["Bank of Example, N.A."]
    assert quoted.data["ipv4"] == ["198.51.100.7"]
    # "Other" is PhishTank's "no particular brand": not kept as a target.
    assert "phish_target" not in events["ftp://files.example.net/invoice.html"].data


def test_each_malformed_row_is_reported_and_good_rows_are_kept(ingest) -> None:
    (doc,) = ingest("malformed.csv")  # holds a 0xFF byte: ingest stores it as latin-1
    assert doc["data"]["encoding"] == "latin-1"
    result = run_filter("phishtank", doc)
    reasons = {p.where: p.reason for p in result.problems}
    assert set(reasons) == {f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 14, 16)}
    assert "missing column" in reasons["line 3"]
    assert "extra column" in reasons["line 4"]
    assert "9 columns" in reasons["line 5"]
    assert "unterminated quote" in reasons["line 6"]
    assert "verified" in reasons["line 7"]
    assert "ISO 8601" in reasons["line 8"]
    assert "phish_id" in reasons["line 9"]
    assert "url is missing" in reasons["line 10"]
    assert "hxxp" in reasons["line 14"]
    assert "UTF-8" in reasons["line 16"]
    urls = set(_by_url(result))
    # The rows after the unterminated quote are read; the duplicate row is one event.
    assert urls == {
        "http://control.example.com/",
        "http://rtl.example.com/\u202egnp.exe",
        "http://quoted.example.com/",
        "http://after.example.com/",
    }
    assert len(result.instances) == 4
    quoted = _by_url(result)["http://quoted.example.com/"]
    assert quoted.data["phish_target"] == ['Brand, with "quotes"']


def test_same_dump_twice_gives_the_same_events(ingest) -> None:
    first = run_filter("phishtank", ingest("online-valid.csv")[0])
    second = run_filter("phishtank", ingest("online-valid.csv")[0])
    assert [e._hash for e in first.instances] == [e._hash for e in second.instances]


def test_a_later_part_reads_the_header_of_the_file(ingest) -> None:
    whole = run_filter("phishtank", ingest("online-valid.csv")[0])
    parts = ingest("online-valid.csv", chunk_bytes=300)
    assert len(parts) > 2 and all("header" in p["data"] for p in parts)
    events, problems = [], []
    for part in parts:
        result = run_filter("phishtank", part)
        events += [e._hash for e in result.instances]
        problems += result.problems
    assert problems == []
    assert sorted(events) == sorted(e._hash for e in whole.instances)


def test_a_header_without_required_columns_fails_the_document(tmp_path, ingest) -> None:
    path = tmp_path / "other.csv"
    path.write_text("phish_id,link,when\n1,http://example.com/,2021-01-01T00:00:00+00:00\n")
    (doc,) = ingest(path)
    with pytest.raises(InputError, match=r"lacks url, submission_time$"):
        run_filter("phishtank", doc)


def test_leading_blank_lines_and_concatenated_dumps(ingest) -> None:
    text = (DATA / "online-valid.csv").read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    header, first_row, *rest = text.split("\n")
    doubled = f"\n\n{header}\n{first_row}\n{header}\n" + "\n".join(rest)
    result = run_filter("phishtank", make_raw("phishtank_feed", {"data": doubled}))
    assert result.problems == ()
    assert len(result.instances) == 4


def test_urls_are_normalised_like_every_plugin_does() -> None:
    rows = [
        "http://Bücher.Example./a",  # punycode, no trailing dot
        "http://3232235777/b",  # the address browsers open: 192.168.1.1
        "http://[::ffff:192.168.1.1]/c",  # IPv4-mapped IPv6: the IPv4 host
        "http://tab.example.com/a\tb",  # a TAB inside the URL: reported, not removed
    ]
    header = "phish_id,url,submission_time,verified"
    text = "\n".join(
        [header] + [f"{n},{url},2021-03-14T07:31:24+00:00,yes" for n, url in enumerate(rows, 1)]
    )
    result = run_filter("phishtank", make_raw("phishtank_feed", {"data": text}))
    events = _by_url(result)
    assert sorted(events) == [
        "http://192.168.1.1/b",
        "http://192.168.1.1/c",
        "http://xn--bcher-kva.example/a",
    ]
    assert events["http://xn--bcher-kva.example/a"].data["domain"] == ["xn--bcher-kva.example"]
    assert events["http://192.168.1.1/b"].data["ipv4"] == ["192.168.1.1"]
    assert events["http://192.168.1.1/c"].data["ipv4"] == ["192.168.1.1"]
    ((where, reason),) = [(p.where, p.reason) for p in result.problems]
    assert where == "line 5" and "control characters" in reason
