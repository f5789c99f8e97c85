"""Batched, idempotent writes against a live server."""

from __future__ import annotations

import threading

from cybexp_core import Attribute, Event, Object, Raw, Session
from cybexp_core.backend import Archive
from cybexp_core.config import Settings


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
