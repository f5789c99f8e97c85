"""The JSON dump (with details[]), JSON lines and single JSON records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cybexp_core import Attribute, InputError
from cybexp_core.testing import make_raw, run_filter

DATA = Path(__file__).parent / "data"


def _by_id(result) -> dict[int, list]:
    found: dict[int, list] = {}
    for event in result.instances:
        found.setdefault(event.data["phishtank"][0]["phishtank_id"][0], []).append(event)
    return found


def test_json_dump_keeps_network_details(ingest) -> None:
    result = run_filter("phishtank", ingest("dump.json")[0])
    events = _by_id(result)
    assert sorted(events) == [8000001 + n for n in range(7)]
    full = events[8000001][0]
    assert full.data["url"] == ["https://bank.example.com/login"]  # escaped slashes decoded
    assert full.data["network"] == [
        {
            "ipv4": ["192.0.2.10"],
            "cidr": ["192.0.2.0/24"],
            "asn": [64500],
            "rir": ["arin"],
            "country": ["US"],
            "detail_time": [1668607832.0],
        }
    ]
    assert Attribute("asn", 64500)._hash in full._ref  # an analyst can query the ASN
    assert "network" not in events[8000002][0].data  # details: []
    assert "network" not in events[8000003][0].data  # details: null
    two = events[8000004][0]  # integer phish_id, no target, two details
    assert "phish_target" not in two.data
    assert [n["country"] for n in two.data["network"]] == [["US"], ["DE"]]
    assert two.data["network"][1]["ipv6"] == ["2001:db8::1"]


def test_unverified_phish_is_not_called_malicious(ingest) -> None:
    (event,) = _by_id(run_filter("phishtank", ingest("dump.json")[0]))[8000005]
    assert event.category == "unknown"
    assert event._mal_ref == ()
    assert event.data["phishtank"] == [{"phishtank_id": [8000005], "verified": [False]}]


def test_bad_details_are_reported_and_the_phish_kept(ingest) -> None:
    result = run_filter("phishtank", ingest("dump.json")[0])
    events = _by_id(result)
    reasons = [p.reason for p in result.problems]
    assert len(reasons) == 2
    assert "not-an-ip" in reasons[0] and "dropped" in reasons[0]
    assert "300.0.0.0/99" in reasons[1]
    assert "network" not in events[8000006][0].data
    assert "cidr" not in events[8000007][0].data["network"][0]
    assert events[8000007][0].data["network"][0]["ipv4"] == ["192.0.2.10"]


def test_truncated_dump_keeps_the_complete_records(ingest) -> None:
    result = run_filter("phishtank", ingest("truncated.json")[0])
    assert sorted(_by_id(result)) == [8000001, 8000002, 8000003]
    (problem,) = result.problems
    assert problem.where.startswith("record 4 ")
    assert "truncated or invalid JSON" in problem.reason


def test_json_lines_text(ingest) -> None:
    result = run_filter("phishtank", ingest("records.jsonl")[0])
    assert sorted(_by_id(result)) == [8000001, 8000002, 8000003]
    (problem,) = result.problems
    assert problem.where == "line 4" and "invalid JSON" in problem.reason


def test_one_record_per_raw_document() -> None:
    """``ingest --format jsonl`` of a dump converted to JSON lines: data is the record."""
    record = json.loads((DATA / "records.jsonl").read_text().splitlines()[0])
    result = run_filter("phishtank", make_raw("phishtank_feed", record))
    assert [e.data["url"] for e in result.instances] == [["https://bank.example.com/login"]]
    with pytest.raises(InputError, match="submission_time is missing"):
        run_filter("phishtank", make_raw("phishtank_feed", {**record, "submission_time": None}))


def test_a_dump_cut_into_parts_loses_no_record(tmp_path, ingest) -> None:
    records = json.loads((DATA / "dump.json").read_text())
    path = tmp_path / "big.json"
    path.write_text(json.dumps(records * 4, indent=1))
    parts = ingest(path, chunk_bytes=1500)
    assert len(parts) > 3
    seen, cut = 0, 0
    for part in parts:
        result = run_filter("phishtank", part)
        seen += len(result.instances)
        cut += sum("truncated or invalid JSON" in p.reason for p in result.problems)
    # ingest cuts a JSON dump between records: every part is a whole array, no record is cut.
    assert all(part["data"]["data"].startswith("[") for part in parts)
    assert cut == 0
    assert seen == len(records) * 4
