"""End to end against the real server, as ``run --once`` does it."""

from __future__ import annotations

from cybexp_core import Consumes
from cybexp_core.testing import make_raw, run_pipeline

FILTER_ID = "05e66bff-c3e1-49a0-bd2e-ad203a1f94fc"


def test_sightings_end_to_end_and_reprocessing_adds_nothing(archive) -> None:
    raws = [
        make_raw(
            "sighting",
            {"ipv4": "192.0.2.1", "timestamp": 1, "context": "malicious", "category": "malicious"},
        ),
        make_raw(
            "sighting",
            {
                "ipv4": "192.0.2.1",
                "timestamp": 2,
                "$where": "sleep(1)",
                "nested": {"$gt": 1},
                "url": "http://example.com/" + "x" * 100_000 + "\tz",
            },
        ),
        make_raw("sighting", {"url": "http://192.0.2.1/x", "timestamp": 3}),
        make_raw("sighting", {"ipv4": "192.0.2.1"}),  # no timestamp
    ]
    stats = run_pipeline(archive, raws, filters=["sighting"]).filters["sighting"]
    assert (stats.processed, stats.failed) == (3, 1)
    coll = archive.collection
    ip = coll.find_one({"itype": "attribute", "sub_type": "ipv4"})
    assert ip["data"] == "192.0.2.1"
    # The same indicator sighted three times (once as a URL host) is one attribute, three events.
    assert coll.count_documents({"itype": "attribute", "sub_type": "ipv4"}) == 1
    assert coll.count_documents({"itype": "event", "_ref": ip["_hash"]}) == 3
    assert coll.count_documents({"itype": "event", "_mal_ref": ip["_hash"]}) == 1
    # Rejected keys are never written as instances.
    assert (
        coll.count_documents({"itype": {"$ne": "raw"}, "sub_type": {"$in": ["$where", "nested"]}})
        == 0
    )
    [problems] = archive.problems(FILTER_ID)
    assert problems["_hash"] == raws[1]["_hash"] and problems["count"] == 3
    # A 100 kB value is reported without being copied whole into the problem record.
    reasons = [p["reason"] for p in problems["first"]]
    assert any("control characters" in r for r in reasons)
    assert all(len(r) <= 500 for r in reasons)
    [failed] = archive.failures(FILTER_ID)
    assert failed.hash == raws[3]["_hash"] and "timestamp" in failed.record["message"]
    assert coll.find_one({"_hash": raws[3]["_hash"]}, {"_id": 0}) == raws[3], "raw untouched"

    before = coll.count_documents({})
    assert archive.forget_done(FILTER_ID, [Consumes.raw("sighting")]) == 3
    archive.clear_failures(FILTER_ID, [Consumes.raw("sighting")])
    assert run_pipeline(archive, [], filters=["sighting"]).filters["sighting"].processed == 3
    assert coll.count_documents({}) == before
