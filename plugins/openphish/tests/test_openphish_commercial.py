"""The commercial feed: a JSON object a line, with times and hosting details."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cybexp_core import Attribute, InputError
from cybexp_core.testing import make_raw, run_filter

DATA = Path(__file__).parent / "data"


def test_records_keep_their_time_brand_and_hosting(ingest) -> None:
    (doc,) = ingest("commercial.jsonl")  # no data.timestamp needed: records carry isotime
    result = run_filter("openphish", doc)
    events = {e.data["url"][0]: e for e in result.instances}
    assert sorted(events) == [
        "http://badip.example.com/",
        "http://secure.example.com/bank/login/",
        "http://shop.example.net/?session=abc",
    ]
    bank = events["http://secure.example.com/bank/login/"]
    assert bank.timestamp == datetime(2018, 2, 6, 15, 16, 6, tzinfo=timezone.utc).timestamp()
    assert bank.category == "malicious"
    assert bank.data["phish_target"] == ["Example Bank"]
    assert bank.data["domain"] == ["secure.example.com"]
    assert bank.data["network"] == [{"ipv4": ["192.0.2.44"], "asn": [64500], "country": ["US"]}]
    assert bank._mal_ref == (Attribute("url", "http://secure.example.com/bank/login/")._hash,)
    assert events["http://shop.example.net/?session=abc"].data["network"][0]["ipv6"] == [
        "2001:db8::44"
    ]
    assert "network" not in events["http://badip.example.com/"].data
    reasons = {p.where: p.reason for p in result.problems}
    assert set(reasons) == {"line 3", "line 4", "line 5", "line 6"}
    assert "isotime" in reasons["line 3"]
    assert "999.1.1.1" in reasons["line 4"]
    assert "must be an object" in reasons["line 5"]
    assert "invalid JSON" in reasons["line 6"]


def test_one_record_per_raw_document() -> None:
    """``ingest --format jsonl`` of the commercial feed: data is the record itself."""
    record = json.loads((DATA / "commercial.jsonl").read_text().splitlines()[0])
    result = run_filter("openphish", make_raw("openphish_feed", record))
    assert [e.data["url"] for e in result.instances] == [["http://secure.example.com/bank/login/"]]
    with pytest.raises(InputError, match="isotime"):
        run_filter("openphish", make_raw("openphish_feed", {**record, "isotime": "06-02-2018"}))
