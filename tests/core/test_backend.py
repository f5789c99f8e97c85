"""Batched, idempotent writes against a live server."""

from __future__ import annotations

import threading

import pytest
from pymongo.errors import DuplicateKeyError

from cybexp_core import Attribute, Event, Object, Raw, Session
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.session_writes import session_update


def _login(password: str, ts: float) -> Event:
    credential = Object(
        "credential", [Attribute("username", "root"), Attribute("password", password)]
    )
    return Event(
        "login", [credential, Attribute("success", False)], "org", ts, mal_data=[credential]
    )


def test_descendants_are_written_once_and_a_rerun_is_a_no_op(archive: Archive) -> None:
    events = [_login("123456", 1), _login("123456", 2), _login("admin", 1)]
    stats = archive.write_instances(events)
    coll = archive.collection
    assert coll.count_documents({"itype": "event"}) == 3
    assert coll.count_documents({"itype": "object", "sub_type": "credential"}) == 2
    assert coll.count_documents({"itype": "attribute"}) == 4  # root, 123456, admin, false
    assert stats.inserted == 9
    fresh = Archive(coll)  # another process: nothing cached
    again = fresh.write_instances(events)
    assert again.inserted == 0 and again.existing == 9
    assert coll.count_documents({}) == 9


def test_a_stored_document_wins_as_in_tahoe(archive: Archive) -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    archive.write_instances([Event("e", [ip], "org", 1, category="malicious")])
    Archive(archive.collection).write_instances([Event("e", [ip], "org", 1, category="benign")])
    assert archive.collection.find_one({"itype": "event"})["category"] == "malicious"


def _session(event: str, **times: float) -> Session:
    identity = [Attribute("sessionid", "abcd1234"), Attribute("sesnor", "sensor1")]
    return Session("cowrie_session", identity, events=[event], **times)


def test_sessions_converge_whatever_the_arrival_order(archive: Archive) -> None:
    parts = [
        _session("e-closed", end_time=130.0, duration=30.0, start_time=100.0),
        _session("e-login", start_time=110.0, end_time=110.0),
        _session("e-connect", start_time=100.0),
    ]
    for part in parts:  # one write per event, closed first
        Archive(archive.collection).write_instances([part])
    stored = archive.collection.find_one({"itype": "session"}, {"_id": 0})
    forward = Archive(archive.collection)
    archive.collection.delete_many({})
    forward.write_instances(list(reversed(parts)))  # all in one batch, connect first
    assert archive.collection.find_one({"itype": "session"}, {"_id": 0}).keys() == stored.keys()
    for doc in (stored, archive.collection.find_one({"itype": "session"}, {"_id": 0})):
        assert (doc["start_time"], doc["end_time"], doc["duration"]) == (100.0, 130.0, 30.0)
        assert {"e-closed", "e-login", "e-connect"} <= set(doc["_ref"])
        assert set(parts[0]._cref) <= set(doc["_ref"])
        assert doc["data"] == {"sessionid": ["abcd1234"], "sesnor": ["sensor1"]}


@pytest.mark.parametrize("cap", [None, 2])
def test_a_new_session_is_inserted_as_its_upsert_would_create_it(
    archive: Archive, cap: int | None
) -> None:
    """New sessions go in with the batch's inserts; the document is the one the merging
    upsert makes (times, refs cut to the cap and ``saturated``, ``_from``)."""
    parts = [
        _session("e-closed", end_time=130.0, duration=30.0, start_time=100.0, max_events=cap),
        _session("e-login", start_time=110.0, end_time=110.0, max_events=cap),
        _session("e-connect", start_time=90.0, max_events=cap),
    ]
    sources = ["raw-b", "raw-a", "raw-b"]
    write = session_update(parts, sources)
    archive.collection.bulk_write([write.upsert()])
    upserted = _stored_session(archive)
    archive.collection.delete_many({})
    stats = archive.write_instances(parts, {parts[0]._hash: sources})
    inserted = _stored_session(archive)
    assert inserted == upserted and stats.sessions == 1
    assert inserted["_from"] == ["raw-b", "raw-a"]
    assert (inserted["start_time"], inserted["end_time"]) == (90.0, 130.0)
    assert inserted.get("saturated", False) is (cap is not None)


def test_concurrent_writers_race_without_errors_or_duplicates(
    archive: Archive, mongo_uri: str
) -> None:
    settings = Settings(mongo_url=mongo_uri, db=archive.collection.database.name)
    batch = [_login(f"pw{i}", i) for i in range(40)] + [
        _session(f"e{i}", start_time=i) for i in range(10)
    ]
    errors: list[BaseException] = []

    def write() -> None:
        writer = Archive.connect(settings)
        try:
            writer.write_instances(batch)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            writer.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    hashes = [d["_hash"] for d in archive.collection.find({}, {"_hash": 1})]
    # 40 events, credentials and passwords; root and false; the session and its 2 attributes
    assert len(hashes) == len(set(hashes)) == 40 * 3 + 2 + 3
    session = archive.collection.find_one({"itype": "session"})
    assert session["start_time"] == 0.0 and {f"e{i}" for i in range(10)} <= set(session["_ref"])


def test_raw_documents_are_deduplicated_by_hash(archive: Archive) -> None:
    raws = [
        Raw("cowrie", {"a": 1}, "org1"),
        Raw("cowrie", {"a": 1}, "org2"),
        Raw("cowrie", {"a": 2}, "org1"),
    ]
    assert archive.insert_raw(raws) == (2, 1)
    assert archive.insert_raw(raws) == (0, 3)
    assert archive.collection.find_one({"data.a": 1})["orgid"] == "org1"


def _capped(event: str, ts: float, cap: int | None = 3) -> Session:
    return Session(
        "correlation",
        [Attribute("domain", "update.example.com")],
        events=[event],
        start_time=ts,
        end_time=ts,
        max_events=cap,
    )


def _stored_session(archive: Archive) -> dict:
    found = list(archive.collection.find({"itype": "session"}, {"_id": 0}))
    assert len(found) == 1
    return found[0]


def test_a_capped_session_stops_at_max_events_and_still_merges_times(archive: Archive) -> None:
    """Cap 3, five events in two batches (2, then 3): the first three are listed, the
    session is saturated, and the cut-off events' times are merged."""
    identity = Attribute("domain", "update.example.com")._hash
    archive.write_instances([_capped("e1", 10.0), _capped("e2", 20.0)])
    first = _stored_session(archive)
    assert first["_ref"] == [identity, "e1", "e2"] and "saturated" not in first

    archive.write_instances([_capped("e3", 30.0), _capped("e4", 5.0), _capped("e5", 50.0)])
    stored = _stored_session(archive)
    assert stored["_ref"] == [identity, "e1", "e2", "e3"]
    assert stored["saturated"] is True
    assert (stored["start_time"], stored["end_time"]) == (5.0, 50.0)

    # a full session: a new event is not listed, its time is merged; nothing else changes
    Archive(archive.collection).write_instances([_capped("e6", 60.0), _capped("e7", 1.0)])
    again = _stored_session(archive)
    assert again["_ref"] == stored["_ref"]
    assert (again["start_time"], again["end_time"]) == (1.0, 60.0)
    assert archive.collection.count_documents({"_ref": "e6"}) == 0


def test_one_batch_past_the_cap_is_cut_to_it(archive: Archive) -> None:
    archive.write_instances([_capped(f"e{i}", float(i)) for i in range(5)])
    stored = _stored_session(archive)
    assert stored["_ref"][1:] == ["e0", "e1", "e2"] and stored["saturated"] is True
    assert (stored["start_time"], stored["end_time"]) == (0.0, 4.0)


def test_an_almost_full_session_is_not_overshot_by_a_batch(archive: Archive) -> None:
    archive.write_instances([_capped("e1", 1.0), _capped("e2", 2.0)])
    archive.write_instances([_capped("e3", 3.0), _capped("e4", 4.0)])
    stored = _stored_session(archive)
    assert stored["_ref"][1:] == ["e1", "e2", "e3"] and stored["saturated"] is True
    assert stored["end_time"] == 4.0


def test_a_cap_not_reached_leaves_no_mark(archive: Archive) -> None:
    archive.write_instances([_capped("e1", 1.0, cap=4)])
    archive.write_instances([_capped("e2", 2.0, cap=4), _capped("e3", 3.0, cap=4)])
    stored = _stored_session(archive)
    assert stored["_ref"][1:] == ["e1", "e2", "e3"]
    assert "saturated" not in stored
    # re-writing the same events adds nothing and does not mark it
    archive.write_instances([_capped("e1", 1.0, cap=4), _capped("e2", 2.0, cap=4)])
    assert _stored_session(archive) == stored


def test_an_uncapped_session_is_unaffected(archive: Archive) -> None:
    archive.write_instances([_capped(f"e{i}", float(i), cap=None) for i in range(3)])
    archive.write_instances([_capped(f"e{i}", float(i), cap=None) for i in range(3, 6)])
    stored = _stored_session(archive)
    uncapped = Session("correlation", [Attribute("domain", "update.example.com")])
    assert stored["_ref"] == [*uncapped._ref, *(f"e{i}" for i in range(6))]
    assert stored.keys() == {
        "itype",
        "data",
        "_cref",
        "_ref",
        "sub_type",
        "_hash",
        "start_time",
        "end_time",
    }


def test_the_smallest_cap_of_a_batch_applies(archive: Archive) -> None:
    archive.write_instances([_capped("e1", 1.0, cap=10), _capped("e2", 2.0, cap=1)])
    stored = _stored_session(archive)
    assert stored["_ref"][1:] == ["e1"] and stored["saturated"] is True


def test_concurrent_writers_respect_the_cap(archive: Archive, mongo_uri: str) -> None:
    settings = Settings(mongo_url=mongo_uri, db=archive.collection.database.name)
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        writer = Archive.connect(settings)
        try:
            for n in range(5):  # small batches racing on one session
                writer.write_instances(
                    [_capped(f"w{offset}-{n}-{i}", offset + n + i / 10, cap=8) for i in range(3)]
                )
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            writer.close()

    threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = _stored_session(archive)
    assert len(stored["_ref"]) == 1 + 8 and stored["saturated"] is True
    assert (stored["start_time"], stored["end_time"]) == (0.0, 304.2)


def test_a_capped_upsert_that_lost_the_insert_race_still_adds_its_events(
    archive: Archive,
) -> None:
    """A duplicate key on a capped upsert means "full" or "another writer just created it";
    the redo tells them apart."""
    losing = session_update([_capped("e2", 2.0), _capped("e3", 3.0)])
    archive.write_instances([_capped("e1", 1.0)])  # the other writer's insert won
    archive.collection.bulk_write(losing.retry(), ordered=False)
    stored = _stored_session(archive)
    assert stored["_ref"][1:] == ["e1", "e2", "e3"] and "saturated" not in stored
    assert (stored["start_time"], stored["end_time"]) == (1.0, 3.0)


def test_an_older_unique_hash_index_gives_way_to_hash_and_itype(archive: Archive) -> None:
    coll = archive.collection
    coll.create_index([("_hash", 1)], unique=True)
    attribute = Attribute("ipv4", "203.0.113.9")
    forged = {**Raw("demo", {"x": 1}, "org-evil").doc, "_hash": attribute._hash}
    coll.insert_one(forged)
    archive.ensure_indexes()
    archive.ensure_indexes()  # idempotent
    unique = [s["key"] for s in coll.index_information().values() if s.get("unique")]
    assert unique == [[("_hash", 1), ("itype", 1)]]
    archive.write_instances([attribute])
    assert coll.count_documents({"_hash": attribute._hash, "itype": "attribute"}) == 1
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({**attribute.doc})
