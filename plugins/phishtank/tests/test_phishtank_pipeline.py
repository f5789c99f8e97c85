"""End to end: raw documents stored in a real server and processed like ``run --once``."""

from __future__ import annotations

from cybexp_core.testing import run_pipeline

FILTER_ID = "e8f53cdc-1a9a-478d-ac4f-ab6a2f7e2341"


def test_feeds_end_to_end_and_reprocessing_adds_nothing(archive, ingest) -> None:
    raws = [
        *ingest("online-valid.csv"),
        *ingest("malformed.csv"),
        *ingest("dump.json"),
        *ingest("truncated.json"),
        *ingest("urls.txt", timestamp=1_600_000_000),
        *ingest("urls.txt"),  # no fetch time: the time it was stored is used
    ]
    summary = run_pipeline(archive, raws, filters=["phishtank"])
    stats = summary.filters["phishtank"]
    assert (stats.processed, stats.failed) == (6, 0)
    coll = archive.collection
    events = coll.count_documents({"itype": "event", "sub_type": "sighting"})
    # truncated.json repeats the first records of dump.json: the same events, not new ones.
    assert events == 4 + 4 + 7 + 3 + 3
    assert coll.count_documents({"itype": "attribute", "sub_type": "phishtank_id"}) == 4 + 4 + 7
    # Distinct hostings in dump.json: 192.0.2.10 with and without a valid cidr, 2001:db8::1.
    assert coll.count_documents({"itype": "object", "sub_type": "network"}) == 3
    # An analyst can find the phishes hosted in an AS, through the attribute hash.
    asn = coll.find_one({"itype": "attribute", "sub_type": "asn", "data": 64500})
    assert coll.count_documents({"itype": "event", "_ref": asn["_hash"]}) == 3
    malformed = coll.find_one({"_hash": raws[1]["_hash"]})
    problems = malformed["_problems"][FILTER_ID]
    assert problems["count"] == 10
    assert {p["where"] for p in problems["first"]} >= {"line 6", "line 16"}
    untimed = coll.find_one({"_hash": raws[5]["_hash"]})
    times = {
        e["timestamp"] for e in coll.find({"itype": "event", "_hash": {"$in": untimed["_ref"]}})
    }
    assert times == {untimed["_id"].generation_time.timestamp()}

    before = coll.count_documents({})
    coll.update_many({"itype": "raw"}, {"$unset": {"filters": "", "_failed": ""}})
    again = run_pipeline(archive, [], filters=["phishtank"])
    assert again.filters["phishtank"].processed == 6
    assert coll.count_documents({}) == before  # the same dumps again make no new data
