"""End to end against the real server, as ``run --once`` does it."""

from __future__ import annotations

from cybexp_core import Attribute
from cybexp_core.testing import run_pipeline

FILTER_ID = "c4cd1ecf-1149-46e0-9daa-e2477016d8dc"


def test_feed_end_to_end_and_reprocessing_adds_nothing(archive, ingest) -> None:
    raws = [
        *ingest("community.txt", timestamp=1_544_000_000),
        *ingest("malformed.txt", timestamp=1_544_000_000),
        *ingest("commercial.jsonl"),
        *ingest("community.txt"),  # no fetch time: the time it was stored is used
    ]
    stats = run_pipeline(archive, raws, filters=["openphish"]).filters["openphish"]
    assert (stats.processed, stats.failed) == (4, 0)
    coll = archive.collection
    # malformed.txt's http://bücher.example/anmelden is community.txt's punycode URL, seen at
    # the same fetch time: the same event (the untimed copy of community.txt adds one more).
    assert coll.count_documents({"itype": "event", "sub_type": "sighting"}) == 4 + 10 - 1 + 3 + 4
    punycode = Attribute("url", "http://xn--bcher-kva.example/anmelden")._hash
    assert coll.count_documents({"itype": "event", "_ref": punycode}) == 2
    stored = coll.find_one({"_hash": raws[1]["_hash"]})
    assert stored["_problems"][FILTER_ID]["count"] == 9
    # The 5 kB line is reported, not copied whole into the raw document.
    (long_line,) = [p for p in stored["_problems"][FILTER_ID]["first"] if p["where"] == "line 20"]
    assert 0 < len(long_line["reason"]) <= 500
    assert len(stored["_ref"]) == coll.count_documents({"_hash": {"$in": stored["_ref"]}})
    untimed = coll.find_one({"_hash": raws[3]["_hash"]})
    stored_at = untimed["_id"].generation_time.timestamp()
    times = {
        event["timestamp"]
        for event in coll.find({"itype": "event", "_hash": {"$in": untimed["_ref"]}})
    }
    assert times == {stored_at}

    before = coll.count_documents({})
    coll.update_many({"itype": "raw"}, {"$unset": {"filters": "", "_failed": ""}})
    assert run_pipeline(archive, [], filters=["openphish"]).filters["openphish"].processed == 4
    assert coll.count_documents({}) == before
