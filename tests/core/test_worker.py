"""The runner against a live server: batches, isolation, marks, chaining, idempotence."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from cybexp_core import Attribute, Consumes, Event, FilterInfo, Raw, hookimpl
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.owner import Owner
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.testing import snapshot
from cybexp_core.worker import Runner
from fakes import IpSightings, entry_point

IPS = entry_point("ips", "fakes:ip_sightings")
CORRELATE = entry_point("correlate", "fakes:ip_correlator")


def _filters(*eps: Any, extra: dict[str, object] | None = None) -> list[LoadedFilter]:
    report = load_filters(entry_points_=list(eps), extra_plugins=extra)
    assert not report.errors, report.errors
    return report.filters


def _run(archive: Archive, filters: list[LoadedFilter], **settings: Any) -> Any:
    archive.ensure_indexes()
    return Runner(archive, filters, Settings(mongo_url="x", **settings)).run_once()


def _failure(archive: Archive, fid: str, raw: Raw) -> dict[str, Any]:
    [failure] = archive.failures(fid, hashes=[raw._hash])
    return failure.record


def _progress(archive: Archive, fid: str, consumes: Any = None) -> Any:
    return archive.progress(fid, [consumes or Consumes.raw("demo")])


def _untouched(archive: Archive, raw: Raw) -> bool:
    """The raw document is stored as ingested: no bookkeeping written to it."""
    return archive.collection.find_one({"_hash": raw._hash}, {"_id": 0}) == raw.doc


def _store(archive: Archive, *datas: dict[str, Any], sub_type: str = "demo") -> list[Raw]:
    raws = [Raw(sub_type, data, "org1") for data in datas]
    archive.insert_raw(raws)
    return raws


def test_hook_filter_outputs_are_written_with_provenance_and_inputs_untouched(
    archive: Archive,
) -> None:
    [raw] = _store(archive, {"ips": ["10.0.0.1", "10.0.0.2"], "ts": 100})
    summary = _run(archive, _filters(IPS))
    assert summary.filters["ips"].processed == 1
    coll = archive.collection
    events = list(coll.find({"itype": "event"}, {"_id": 0}))
    assert len(events) == 2 and {e["category"] for e in events} == {"malicious"}
    assert coll.count_documents({"itype": "attribute", "sub_type": "ipv4"}) == 2
    assert all(e["_from"] == [raw._hash] for e in events), "each event names its raw document"
    assert _untouched(archive, raw)
    progress = _progress(archive, "fake-ips")
    assert (progress.processed, progress.pending, progress.instances) == (1, 0, 2)


def test_many_batches_and_a_second_run_change_nothing(archive: Archive) -> None:
    _store(archive, *({"ips": [f"10.0.{i // 250}.{i % 250}"], "ts": i} for i in range(60)))
    first = _run(archive, _filters(IPS), batch_size=7)
    assert first.filters["ips"].processed == 60 and first.filters["ips"].batches == 9
    before = snapshot(archive)
    second = _run(archive, _filters(IPS), batch_size=7)
    assert second.total().handled == 0
    assert snapshot(archive) == before


def test_reprocessing_after_a_crash_before_marking_gives_the_same_state(archive: Archive) -> None:
    _store(archive, *({"ips": ["10.1.1.1", f"10.2.2.{i}"], "ts": 7} for i in range(20)))
    _run(archive, _filters(IPS))
    expected = snapshot(archive)
    # Forget the progress, as if the worker died after writing outputs and before recording.
    assert archive.forget_done("fake-ips", [Consumes.raw("demo")]) == 20
    assert _run(archive, _filters(IPS)).filters["ips"].processed == 20
    assert snapshot(archive) == expected
    assert archive.collection.count_documents({"itype": "event"}) == 21


def test_bad_input_is_kept_with_its_reason_and_others_are_processed(archive: Archive) -> None:
    _good, bad, crash = _store(archive, {"ips": ["1.1.1.1"], "ts": 1}, {"bad": 1}, {"crash": 1})
    summary = _run(archive, _filters(IPS), max_attempts=3)
    stats = summary.filters["ips"]
    assert (stats.processed, stats.failed) == (1, 2)
    failure = _failure(archive, "fake-ips", bad)
    assert failure["error"] == "InputError" and failure["attempts"] == 1
    assert failure["message"] == "demo document without ips" and failure["field"] == "data.ips"
    assert failure["final_for"] == "1.0"
    crashed = _failure(archive, "fake-ips", crash)
    assert crashed["error"] == "RuntimeError" and crashed["attempts"] == 3
    assert len(crashed["fingerprint"]) == 12
    assert _untouched(archive, bad) and _untouched(archive, crash)
    assert (_progress(archive, "fake-ips").failed, _progress(archive, "fake-ips").pending) == (2, 0)


def test_a_new_plugin_version_retries_what_the_old_one_failed_on(archive: Archive) -> None:
    [bad] = _store(archive, {"bad": 1})
    _run(archive, _filters(IPS))
    assert _run(archive, _filters(IPS)).total().handled == 0
    newer = IpSightings()
    newer.version = "2.0"
    summary = _run(archive, _filters(extra={"ips2": newer}))
    assert summary.filters["ips"].failed == 1
    record = _failure(archive, "fake-ips", bad)
    assert record["version"] == "2.0" and record["attempts"] == 1
    assert _progress(archive, "fake-ips").failed == 1, "counted once"


def test_not_for_me_and_problems_are_recorded(archive: Archive) -> None:
    skip, mixed = _store(archive, {"skip": 1}, {"ips": ["1.1.1.1", "nonsense"], "ts": 3})
    summary = _run(archive, _filters(IPS))
    assert summary.filters["ips"].skipped == 1 and summary.filters["ips"].problems == 1
    assert _progress(archive, "fake-ips").skipped == 1 and _untouched(archive, skip)
    [problems] = archive.problems("fake-ips")
    assert problems.pop("doc") and problems.pop("_hash") == mixed._hash
    assert problems == {
        "count": 1,
        "first": [{"where": "ips[1]", "reason": "'nonsense' is not an IPv4 address"}],
    }


def test_hook_filter_chained_consumes_another_filters_output_in_one_run(archive: Archive) -> None:
    _store(archive, {"ips": ["9.9.9.9"], "ts": 50}, {"ips": ["9.9.9.9", "8.8.8.8"], "ts": 10})
    summary = _run(archive, _filters(CORRELATE, IPS))
    assert summary.filters["correlate"].processed == 3
    session = archive.collection.find_one({"itype": "session", "data.ipv4": "9.9.9.9"})
    events = {
        e["_hash"] for e in archive.collection.find({"itype": "event", "data.ipv4": "9.9.9.9"})
    }
    assert len(events) == 2 and events <= set(session["_ref"])
    assert (session["start_time"], session["end_time"]) == (10.0, 50.0)
    # Derived inputs are not written to: their TAHOE _ref is not touched.
    for event in archive.collection.find({"itype": "event"}):
        assert "filters" not in event
        assert len(event["_ref"]) == 1
    assert _progress(archive, "fake-correlate", Consumes("event", "sighting")).processed == 3


def test_a_document_failed_by_one_filter_is_offered_to_the_others(archive: Archive) -> None:
    [raw] = _store(archive, {"bad": 1})
    _run(archive, _filters(IPS))

    class Counter:
        @hookimpl
        def filter_info(self) -> FilterInfo:
            return FilterInfo(
                id="counter", name="counter", version="1", consumes=[Consumes.raw("demo")]
            )

        @hookimpl
        def filter(self, document: dict[str, Any]) -> list[Any]:
            return []

    summary = _run(archive, _filters(extra={"counter": Counter()}))
    assert summary.filters["counter"].processed == 1
    assert _progress(archive, "counter").processed == 1
    assert _failure(archive, "fake-ips", raw)["error"] == "InputError"
    assert list(archive.failures("counter")) == []


def test_transient_database_errors_leave_documents_pending(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    [raw] = _store(archive, {"ips": ["1.1.1.1"], "ts": 1})
    filters = _filters(IPS)

    def down(*_: Any, **__: Any) -> Any:
        raise AutoReconnect("connection reset")

    monkeypatch.setattr(Archive, "write_instances", down)
    with pytest.raises(AutoReconnect):
        _run(archive, filters)
    monkeypatch.undo()
    assert _untouched(archive, raw) and list(archive.failures("fake-ips")) == []
    queue = {"_id": archive.leases.key("fake-ips", Consumes.raw("demo"))}
    state = archive.collection.database["cybexp_state"].find_one(queue)
    assert [lease["until"] for lease in state["leases"]] == [0], "the lease is given up"
    assert _run(archive, filters).filters["ips"].processed == 1
    assert archive.collection.database["cybexp_state"].find_one(queue)["leases"] == []


def _claim(archive: Archive, token: str, limit: int = 20, seconds: float = 60) -> list[Any]:
    key = archive.leases.key("fake-ips", Consumes.raw("demo"))
    owner = Owner(token, "a-host", 1, None)
    claim = archive.leases.claim(
        key,
        {"itype": "raw", "sub_type": "demo"},
        token=token,
        owner=owner,
        limit=limit,
        lease_seconds=seconds,
    )
    return [] if claim is None else claim.docs


def test_two_workers_never_claim_the_same_document(archive: Archive) -> None:
    _store(archive, *({"ips": [f"10.3.3.{i}"], "ts": i} for i in range(30)))
    first, second = _claim(archive, "a"), _claim(archive, "b")
    assert len(first) == 20 and len(second) == 10
    assert not {d["_id"] for d in first} & {d["_id"] for d in second}
    assert _claim(archive, "c") == []
    key = archive.leases.key("fake-ips", Consumes.raw("demo"))
    archive.leases.expire(key, "a")
    taken = _claim(archive, "e", limit=5)
    assert {d["_id"] for d in taken} == {d["_id"] for d in first}, "an expired range is taken over"


def test_documents_inserted_behind_the_cursor_are_found_by_the_rewind(archive: Archive) -> None:
    _store(archive, {"ips": ["10.4.4.1"], "ts": 1})
    filters = _filters(IPS)
    _run(archive, filters)
    from bson import ObjectId

    late = Raw("demo", {"ips": ["10.4.4.2"], "ts": 2}, "org1").doc
    late["_id"] = ObjectId.from_datetime(datetime(2001, 1, 1, tzinfo=timezone.utc))
    archive.collection.insert_one(late)
    assert _run(archive, filters, rescan_seconds=0.001).filters["ips"].processed == 1


class Huge:
    """Returns an attribute too large for a MongoDB document when asked to."""

    @hookimpl
    def filter_info(self) -> FilterInfo:
        return FilterInfo(id="huge", name="huge", version="1", consumes=[Consumes.raw("demo")])

    @hookimpl
    def filter(self, document: dict[str, Any]) -> list[Any]:
        size = document["data"].get("size", 10)
        return [Event("blob", [Attribute("blob", "x" * size)], "org", 1)]


def test_an_output_too_large_for_mongodb_fails_only_its_document(archive: Archive) -> None:
    small, big = _store(archive, {"size": 10}, {"size": 17 * 1024 * 1024})
    summary = _run(archive, _filters(extra={"huge": Huge()}))
    assert (summary.filters["huge"].processed, summary.filters["huge"].failed) == (1, 1)
    record = _failure(archive, "huge", big)
    assert record["error"] == "OutputTooLarge"
    assert record["message"].startswith("output could not be stored")
    assert len(record["message"]) < 1000
    assert _progress(archive, "huge").processed == 1 and _untouched(archive, small)
