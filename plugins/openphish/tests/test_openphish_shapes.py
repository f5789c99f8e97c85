"""The feeds as OpenPhish serves them and operators keep them (issue 16)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

from cybexp_core.testing import run_filter, run_pipeline

FETCHED = 1_544_000_000
URLS = [
    "http://one.example.com/login",
    "https://two.example.net/a?b=c",
    "ftp://files.example.org/invoice.html",
]
FULL_RECORD = {
    "url": "https://full.example.com/signin",
    "brand": "Example Cloud",
    "ip": "192.0.2.80",
    "asn": "AS64510",
    "country_code": "de",
    "discover_time": "21-03-2026 10:15:00 UTC",
    "family_id": "aabbccddeeff00112233445566778899",
    "host": "full.example.com",
    "isotime": "2026-03-21T10:16:00Z",
    "page_language": "de",
    "sector": "Cloud Storage",
    "tld": "com",
    "asn_name": "Example Hosting",
    "country_name": "Germany",
    "phishing_kit": "kit-42",
    "emails": ["Drop@Example.org", "not an address"],
}


def _accumulated(tmp_path: Path, newline: str, final: bool) -> Path:
    """A feed appended to on every fetch: the same URLs again and again."""
    lines = URLS * 5
    path = tmp_path / f"feed{len(newline)}{final}.txt"
    path.write_bytes((newline.join(lines) + (newline if final else "")).encode())
    return path


def test_community_feed_line_endings_ftp_and_repeats(tmp_path: Path, ingest, archive) -> None:
    raws = []
    for newline in ("\n", "\r\n"):
        for final in (True, False):
            (doc,) = ingest(_accumulated(tmp_path, newline, final), timestamp=FETCHED)
            result = run_filter("openphish", doc)
            assert result.problems == ()
            assert sorted({e.data["url"][0] for e in result.instances}) == sorted(URLS)
            raws.append(doc)
    stats = run_pipeline(archive, raws, filters=["openphish"]).filters["openphish"]
    # TAHOE's raw hash ignores the text's surrounding whitespace: with or without the final
    # newline is one raw document.
    assert (stats.processed, stats.failed) == (2, 0)
    # Four files of 15 lines each: three URLs seen at one fetch time are three events.
    assert archive.collection.count_documents({"itype": "event"}) == 3


def test_a_gzipped_community_feed(tmp_path: Path, ingest) -> None:
    path = tmp_path / "feed.txt.gz"
    path.write_bytes(gzip.compress("\n".join(URLS).encode()))
    (doc,) = ingest(path, timestamp=FETCHED)
    assert {e.data["url"][0] for e in run_filter("openphish", doc).instances} == set(URLS)


def test_a_commercial_record_keeps_what_the_feed_says(tmp_path: Path, ingest) -> None:
    path = tmp_path / "commercial.jsonl"
    path.write_text(json.dumps(FULL_RECORD) + "\n")
    (event,) = run_filter("openphish", ingest(path)[0]).instances
    assert event.timestamp == datetime(2026, 3, 21, 10, 16, tzinfo=timezone.utc).timestamp()
    assert event.data["phish_target"] == ["Example Cloud"]
    assert event.data["network"] == [{"ipv4": ["192.0.2.80"], "asn": [64510], "country": ["DE"]}]
    (details,) = event.data["openphish"]
    assert details == {
        "sector": ["Cloud Storage"],
        "family_id": ["aabbccddeeff00112233445566778899"],
        "page_language": ["de"],
        "tld": ["com"],
        "asn_name": ["Example Hosting"],
        "country_name": ["Germany"],
        "phishing_kit": ["kit-42"],
        "discover_time": [datetime(2026, 3, 21, 10, 15, tzinfo=timezone.utc).timestamp()],
        "email_addr": ["drop@example.org"],
    }
    result = run_filter("openphish", ingest(path)[0])
    assert [p.reason for p in result.problems] == [
        "emails entry 'not an address' is not an address; dropped"
    ]
