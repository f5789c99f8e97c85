"""The dumps as PhishTank serves them (issue 16): compressed, XML, the 4-column CSV,
2012 quoting, and a JSON dump too big for one document."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest

from cybexp_core import InputError, rawinput
from cybexp_core.testing import run_filter, run_pipeline

DATA = Path(__file__).parent / "data"


def _urls(result) -> set[str]:
    return {event.data["url"][0] for event in result.instances}


def test_compressed_dumps_read_like_the_plain_ones(tmp_path, ingest) -> None:
    (plain,) = ingest("online-valid.csv")
    packed = tmp_path / "online-valid.csv.bz2"
    packed.write_bytes(bz2.compress((DATA / "online-valid.csv").read_bytes()))
    (unpacked,) = ingest(packed)
    assert unpacked == plain
    json_gz = tmp_path / "online-valid.json.gz"
    json_gz.write_bytes(gzip.compress((DATA / "dump.json").read_bytes()))
    assert ingest(json_gz) == ingest("dump.json")


def test_the_xml_dump(ingest) -> None:
    (doc,) = ingest("online-valid.xml")
    result = run_filter("phishtank", doc)
    assert _urls(result) == {"http://xml.example.com/login?a=1&b=2", "https://xml.example.net/"}
    by_url = {event.data["url"][0]: event for event in result.instances}
    verified = by_url["http://xml.example.com/login?a=1&b=2"]
    assert verified.category == "malicious" and verified.data["phish_target"] == ["Example Bank"]
    (network,) = verified.data["network"]
    assert (network["ipv4"], network["asn"], network["country"]) == (
        ["192.0.2.20"],
        [64501],
        ["NL"],
    )
    assert by_url["https://xml.example.net/"].category == "unknown"
    assert [p.where for p in result.problems] == ["entry 3"]
    assert "url is missing" in result.problems[0].reason


def test_an_xml_dump_with_entities_is_refused(ingest) -> None:
    with pytest.raises(InputError, match=r"refused XML .*DTDForbidden"):
        run_filter("phishtank", ingest("entity_bomb.xml")[0])


def test_the_four_column_csv(ingest) -> None:
    result = run_filter("phishtank", ingest("four_columns.csv")[0])
    assert _urls(result) == {"http://four.example.com/login", "https://four.example.org/secure/"}
    # No verified column: not known to be verified, so not called malicious.
    assert {event.category for event in result.instances} == {"unknown"}
    assert [p.where for p in result.problems] == ["line 4"]


def test_2012_quoting_and_todays_both_parse(ingest) -> None:
    result = run_filter("phishtank", ingest("old_2012.csv")[0])
    assert result.problems == ()
    assert _urls(result) == {
        "http://old.example.com/webscr.php?cmd=login",
        'http://old.example.net/a"b.html',
        "http://old.example.org/x",
    }
    targets = {t for event in result.instances for t in event.data.get("phish_target", [])}
    assert targets == {"PayPal", 'Bank "Example", N.A.'}


def test_a_big_json_dump_is_split_between_records_and_every_phish_made(
    tmp_path, ingest, archive, monkeypatch
) -> None:
    monkeypatch.setattr(rawinput, "MAX_CHUNK_RECORDS", 40)
    template = json.loads((DATA / "dump.json").read_text())[0]
    records = [
        {**template, "phish_id": str(8_500_000 + n), "url": f"https://big{n}.example.com/login"}
        for n in range(150)
    ]
    path = tmp_path / "online-valid.json.gz"
    path.write_bytes(gzip.compress(json.dumps(records).encode()))  # one line, as served
    parts = ingest(path)
    assert len(parts) == 4 and max(len(json.loads(p["data"]["data"])) for p in parts) == 40
    stats = run_pipeline(archive, parts, filters=["phishtank"]).filters["phishtank"]
    assert (stats.processed, stats.failed, stats.problems) == (4, 0, 0)
    assert archive.collection.count_documents({"itype": "event"}) == 150
