"""End to end: raw documents through ``run --once`` against the real MongoDB-wire server."""

from __future__ import annotations

import json

from cowrie_helpers import DATA, ERA_FILES, bad_cases, golden_messages, read_jsonl

from cybexp_core import Consumes, Raw
from cybexp_core.testing import run_pipeline

FID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"


def raws(events, sub_type="cowrie", orgid="org"):
    return [Raw(sub_type, event, orgid) for event in events]


def sessions(archive):
    found = archive.collection.find({"itype": "session"}, {"_id": 0})
    # _ref and _from (provenance) are sets: their order is the order documents arrived in.
    return {
        doc["_hash"]: {**doc, "_ref": sorted(doc["_ref"]), "_from": sorted(doc.get("_from", []))}
        for doc in found
    }


def test_every_era_is_processed_and_bad_lines_fail_with_a_reason(archive):
    good = [event for path in ERA_FILES for event in read_jsonl(path)]
    bad = [case["event"] for case in bad_cases()["bad"]]
    documents = raws(good) + raws(golden_messages(), "unr_honeypot", "ABC123") + raws(bad)
    summary = run_pipeline(archive, documents, filters=["cowrie"])
    stats = summary.filters["cowrie"]
    assert (stats.processed, stats.failed) == (len(good) + 16, len(bad))
    coll = archive.collection
    inputs = [Consumes.raw("cowrie"), Consumes.raw("unr_honeypot")]
    assert archive.progress(FID, inputs).processed == len(good) + 16
    for failed in archive.failures(FID):
        failure = failed.record
        assert failure["error"] == "InputError" and failure["final_for"]
        assert failure["field"] and failure["field"] in failure["message"]
    # the golden login event is stored with its original hash, its children and its session
    login = coll.find_one(
        {"_hash": "cb8a5d833057f8864f9b535df5bc41b4dc8a3870676a16bf9e02ce141f9c6c92"}
    )
    assert login["category"] == "malicious" and login["orgid"] == "ABC123"
    session = coll.find_one(
        {"_hash": "b5dc33e8234420c32efd85790986c7f1497bdacca75c2a530892aba162d74483"}
    )
    assert login["_hash"] in session["_ref"]
    for child in login["_ref"]:
        assert coll.count_documents({"_hash": child}) == 1
    raw = coll.find_one({"itype": "raw", "data.message": golden_messages()[0]["message"]})
    # outputs name the raw document they came from (provenance, ``_from``)
    assert raw["_hash"] in login["_from"] and raw["_hash"] in session["_from"]


def test_session_times_do_not_depend_on_arrival_order(archive, mongo_uri):
    from cybexp_core.backend import Archive
    from cybexp_core.config import Settings

    events = read_jsonl(ERA_FILES[0]) + read_jsonl(DATA / "era_2026_cowrie29.jsonl")
    run_pipeline(archive, raws(events), filters=["cowrie"])
    forward = sessions(archive)
    other = Archive.connect(
        Settings(mongo_url=mongo_uri, db=archive.collection.database.name + "_r")
    )
    try:
        other.ensure_indexes()
        for start in range(len(events), 0, -5):  # newest first, in several runs
            run_pipeline(other, raws(events[max(0, start - 5) : start][::-1]), filters=["cowrie"])
        assert sessions(other) == forward
    finally:
        other.collection.database.client.drop_database(other.collection.database.name)
        other.close()
    closed = [e for e in events if e["eventid"] == "cowrie.session.closed"]
    assert len(closed) == 3
    with_duration = [doc for doc in forward.values() if "duration" in doc]
    assert len(with_duration) == 3
    for doc in with_duration:
        assert doc["start_time"] <= doc["end_time"] - doc["duration"] + 1e-6
    assert all("start_time" in doc and "end_time" in doc for doc in forward.values())


def test_replaying_a_file_changes_nothing(archive):
    events = read_jsonl(ERA_FILES[2])
    run_pipeline(archive, raws(events), filters=["cowrie"])
    before = list(archive.collection.find({"itype": {"$ne": "raw"}}, {"_id": 0}).sort("_hash"))
    run_pipeline(
        archive, raws(events, orgid="again") + raws(events[:3], orgid="x"), filters=["cowrie"]
    )
    after = list(archive.collection.find({"itype": {"$ne": "raw"}}, {"_id": 0}).sort("_hash"))
    assert json.dumps(after, default=str) == json.dumps(before, default=str)


def test_only_the_configured_sub_types_are_read(archive):
    documents = raws(read_jsonl(ERA_FILES[1])) + raws(golden_messages()[:2], "unr_honeypot")
    summary = run_pipeline(
        archive, documents, filters=["cowrie"], settings={"cowrie": {"sub_types": ["cowrie"]}}
    )
    assert summary.filters["cowrie"].processed == len(documents) - 2
    assert archive.progress(FID, [Consumes.raw("unr_honeypot")]).processed == 0


def test_one_key_exchange_offer_stores_the_same_bytes_whichever_order_arrives_first(
    archive, other_archive
):
    """Issue 17 item 7: two raw documents offer one ``ssh_kex`` (same hassh) with
    ``keyAlgs`` in two orders; the object's and the event's hashes ignore the order,
    and so must what is stored, whichever document is processed first."""
    import bson

    [kex] = [e for e in read_jsonl(ERA_FILES[1]) if e["eventid"] == "cowrie.client.kex"][:1]
    first = {**kex, "session": "aaaa0001"}
    second = {**kex, "session": "aaaa0002", "keyAlgs": kex["keyAlgs"][::-1]}
    assert first["keyAlgs"] != second["keyAlgs"]
    run_pipeline(archive, raws([first, second]), filters=["cowrie"])
    run_pipeline(other_archive, raws([second, first]), filters=["cowrie"])

    def stored(target):
        docs = target.collection.find({"itype": {"$ne": "raw"}}, {"_id": 0}).sort("_hash")
        return [bson.encode(doc) for doc in docs]

    assert stored(archive) == stored(other_archive)
    offer = archive.collection.find_one({"itype": "object", "sub_type": "ssh_kex"})
    assert offer["data"]["pub_key_algo"] == sorted(kex["keyAlgs"])
