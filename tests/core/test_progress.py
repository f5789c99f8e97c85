"""Progress without per-document writes: checkpoints, windows, legacy marks, query shapes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import monitoring

from cybexp_core import Consumes, Raw
from cybexp_core.arrivals import Arrivals
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.worker import Runner
from fakes import entry_point

IPS = entry_point("ips", "fakes:ip_sightings")
DEMO = [Consumes.raw("demo")]


def _filters() -> list[LoadedFilter]:
    return load_filters(entry_points_=[IPS]).filters


def _runner(archive: Archive, **settings: Any) -> Runner:
    archive.ensure_indexes()
    return Runner(archive, _filters(), Settings(mongo_url="x", **settings))


def _url(archive: Archive) -> str:
    host, port = archive.collection.database.client.address
    return f"mongodb://{host}:{port}/"


def _late(data: dict[str, Any], year: int = 2001) -> dict[str, Any]:
    """A raw document whose ``_id`` (a client's clock, a restore) is far behind now."""
    doc = Raw("demo", data, "org1").doc
    doc["_id"] = ObjectId.from_datetime(datetime(year, 1, 1, tzinfo=timezone.utc))
    return doc


class _Commands(monitoring.CommandListener):
    """Every command sent to the instance collection."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) == "instance":
            self.seen.append((event.command_name, dict(event.command)))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def claims(self) -> list[dict[str, Any]]:
        """The filters of the claims' reads (a ``find`` with a ``limit``)."""
        return [cmd["filter"] for name, cmd in self.seen if name == "find" and cmd.get("limit")]

    def reads(self) -> list[dict[str, Any]]:
        """The filters of every ``find`` and ``count_documents`` on the collection."""
        found = [cmd.get("filter", {}) for name, cmd in self.seen if name == "find"]
        for name, cmd in self.seen:
            if name == "aggregate":
                found.extend(s["$match"] for s in cmd["pipeline"] if "$match" in s)
        return found


def _watched(archive: Archive) -> tuple[Archive, _Commands]:
    listener = _Commands()
    settings = Settings(mongo_url=_url(archive), db=archive.collection.database.name)
    watched = Archive.connect(settings, event_listeners=[listener])
    return watched, listener


def test_late_documents_are_found_by_the_verification_and_by_run_once(archive: Archive) -> None:
    archive.insert_raw([Raw("demo", {"ips": ["10.5.5.1"], "ts": 1}, "org1")])
    runner = _runner(archive)
    assert runner.run_once().filters["ips"].processed == 1
    archive.collection.insert_one(_late({"ips": ["10.5.5.2"], "ts": 2}))
    # The daemon's periodic call: the late document's window changed, so it is processed.
    [flt] = runner.filters
    assert runner.verify(flt).processed == 1
    assert archive.collection.count_documents({"itype": "event"}) == 2
    archive.collection.insert_one(_late({"ips": ["10.5.5.3"], "ts": 3}, year=2005))
    # run --once recounts every window once its queue's full recount is due.
    assert _runner(archive, rescan_seconds=0.001).run_once().filters["ips"].processed == 1
    progress = archive.progress("fake-ips", DEMO)
    assert (progress.processed, progress.pending) == (3, 0), "counted once each"


def test_run_once_recounts_old_windows_only_when_a_full_recount_is_due(archive: Archive) -> None:
    for day in range(1, 21):  # an archive of documents stored years ago
        old = Raw("demo", {"ips": [f"10.5.10.{day}"], "ts": day}, "org1").doc
        old["_id"] = ObjectId.from_datetime(datetime(2003, 1, day, tzinfo=timezone.utc))
        archive.collection.insert_one(old)
    assert _runner(archive, batch_size=5).run_once().filters["ips"].processed == 20
    archive.collection.insert_one(_late({"ips": ["10.5.10.99"], "ts": 99}, year=2002))
    watched, listener = _watched(archive)
    try:
        again = _runner(watched, batch_size=5).run_once()
    finally:
        watched.close()
    assert again.filters["ips"].processed == 0, "the last full recount is not an hour old"
    counts = [cmd["pipeline"] for name, cmd in listener.seen if name == "aggregate"]
    assert not counts, "no old window was recounted"
    due = _runner(archive, batch_size=5, rescan_seconds=0.001).run_once()
    assert due.filters["ips"].processed == 1, "a full recount finds the late document"
    assert archive.progress("fake-ips", DEMO).processed == 21


def test_process_ids_handles_a_document_behind_the_checkpoint(archive: Archive) -> None:
    archive.insert_raw([Raw("demo", {"ips": ["10.5.6.1"], "ts": 1}, "org1")])
    runner = _runner(archive)
    runner.run_once()
    late = _late({"ips": ["10.5.6.2"], "ts": 2})
    archive.collection.insert_one(late)
    [flt] = runner.filters
    assert runner.process_ids(flt, DEMO[0], [late["_id"]]).processed == 1
    assert archive.collection.count_documents({"itype": "event"}) == 2


def test_a_verification_of_an_unchanged_archive_reads_no_document(archive: Archive) -> None:
    archive.insert_raw([Raw("demo", {"ips": [f"10.5.7.{i}"], "ts": i}, "o") for i in range(30)])
    _runner(archive, batch_size=7).run_once()
    watched, listener = _watched(archive)
    try:
        runner = _runner(watched, batch_size=7)
        [flt] = runner.filters
        assert runner.verify(flt).handled == 0
        assert runner.verify(flt, recent_only=True).handled == 0
    finally:
        watched.close()
    assert not [name for name, _ in listener.seen if name == "find"], "no document was read"
    assert listener.reads(), "the windows were recounted"


def _both_bounded(query: dict[str, Any]) -> bool:
    bounds = query.get("_id")
    return (
        set(query) <= {"itype", "sub_type", "_id"}
        and isinstance(bounds, dict)
        and bool({"$gt", "$gte"} & set(bounds))
        and bool({"$lt", "$lte"} & set(bounds))
    )


def test_claims_verifications_and_status_read_only_bounded_ranges(archive: Archive) -> None:
    archive.insert_raw([Raw("demo", {"ips": [f"10.5.8.{i}"], "ts": i}, "o") for i in range(25)])
    watched, listener = _watched(archive)
    try:
        summary = _runner(watched, batch_size=10).run_once()
        watched.collection.insert_one(_late({"ips": ["10.5.8.99"], "ts": 1}))
        status = watched.progress("fake-ips", DEMO)
        assert status.pending == 0 and status.processed == 25
        more = _runner(watched, batch_size=10, rescan_seconds=0.001).run_once()
    finally:
        watched.close()
    assert summary.filters["ips"].processed == 25 and more.filters["ips"].processed == 1
    reads = listener.reads()
    assert reads and all(_both_bounded(q) for q in reads), [
        q for q in reads if not _both_bounded(q)
    ]


def test_claims_in_a_bulk_insert_read_about_a_batch_each(archive: Archive) -> None:
    # One insert_many packs its ObjectIds far closer than a microsecond apart; a claim
    # window must shrink to that, or every claim reads the rest of the insert (SecantusDB
    # reads every document of the range whatever the limit).
    archive.insert_raw([Raw("demo", {"ips": [f"10.6.{i // 250}.{i % 250}"], "ts": i}, "o")
                        for i in range(300)])
    watched, listener = _watched(archive)
    try:
        summary = _runner(watched, batch_size=10).run_once()
    finally:
        watched.close()
    assert summary.filters["ips"].processed == 300
    claims = listener.claims()
    held = [archive.collection.count_documents(query) for query in claims]
    assert len([n for n in held if n > 20]) <= 2, held


def test_a_queues_first_claim_passes_over_the_empty_decades_in_a_few_reads(
    archive: Archive,
) -> None:
    # A queue's first claim starts at ObjectId 0 (1970): with its windows doubling from
    # a minute, 25 empty reads came before the first document of today.
    archive.insert_raw([Raw("demo", {"ips": [f"10.7.0.{i}"], "ts": i}, "o") for i in range(5)])
    watched, listener = _watched(archive)
    try:
        summary = _runner(watched, batch_size=10).run_once()
    finally:
        watched.close()
    assert summary.filters["ips"].processed == 5
    claims = listener.claims()
    assert all(_both_bounded(query) for query in claims), claims
    assert len(claims) <= 10, len(claims)


def test_outputs_pay_the_whole_itype_index_only_where_a_filter_reads_a_whole_itype(
    archive: Archive,
) -> None:
    archive.insert_raw([Raw("demo", {"ips": [f"10.6.9.{i}"], "ts": i}, "o") for i in range(3)])
    _runner(archive).run_once()
    keys = [spec["key"] for spec in archive.collection.index_information().values()]
    assert [("itype", 1), ("_id", 1)] not in keys, "no filter reads every event"
    everything = load_filters(entry_points_=[IPS, entry_point("events", "fakes:event_counter")])
    summary = Runner(archive, everything.filters, Settings(mongo_url="x")).run_once()
    assert summary.filters["events"].skipped == 3, "it saw the three events"
    specs = archive.collection.index_information().values()
    whole = [spec for spec in specs if spec["key"] == [("itype", 1), ("_id", 1)]]
    assert [spec.get("partialFilterExpression") for spec in whole] == [{"itype": "event"}]


def _index_of(archive: Archive, query: dict[str, Any]) -> str | None:
    """The index the server's plan for a claim's query (sorted by ``_id``) scans, if any."""
    plan = archive.collection.find(query).sort("_id", 1).limit(10).explain()["queryPlanner"]
    stack: list[Any] = [plan["winningPlan"]]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("stage") == "IXSCAN":
                return node["indexName"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _event_claims(archive: Archive) -> list[dict[str, Any]]:
    """The claim queries (finds with a limit) of a run of a filter reading every event."""
    archive.insert_raw([Raw("demo", {"ips": [f"10.6.7.{i}"], "ts": i}, "o") for i in range(3)])
    _runner(archive).run_once()
    watched, listener = _watched(archive)
    everything = load_filters(entry_points_=[IPS, entry_point("events", "fakes:event_counter")])
    try:
        summary = Runner(watched, everything.filters, Settings(mongo_url="x")).run_once()
    finally:
        watched.close()
    assert summary.filters["events"].skipped == 3, "it saw the three events"
    return [query for query in listener.claims() if "sub_type" not in query]


def _whole_itype_indexes(archive: Archive) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in archive.collection.index_information().items()
        if spec["key"] == [("itype", 1), ("_id", 1)]
    }


def test_claims_of_every_event_use_an_index_of_events_only(archive: Archive) -> None:
    claims = _event_claims(archive)
    [(name, spec)] = _whole_itype_indexes(archive).items()
    assert spec["partialFilterExpression"] == {"itype": "event"}, "other inserts skip it"
    assert claims and all(_index_of(archive, query) == name for query in claims)


def test_an_archive_with_the_earlier_index_of_every_itype_keeps_it(archive: Archive) -> None:
    earlier = archive.collection.create_index([("itype", 1), ("_id", 1)])
    claims = _event_claims(archive)
    assert list(_whole_itype_indexes(archive)) == [earlier], "no second index to pay"
    assert claims and all(_index_of(archive, query) == earlier for query in claims)


def test_an_index_the_server_refuses_leaves_the_claims_working(archive: Archive) -> None:
    name = "itype_1__id_1_event"
    archive.collection.create_index([("sub_type", 1)], name=name)  # an operator's, say
    assert _event_claims(archive)
    assert archive.collection.index_information()[name]["key"] == [("sub_type", 1)], "kept"
    assert not _whole_itype_indexes(archive)


def test_status_reads_counters_not_the_archive(archive: Archive) -> None:
    archive.insert_raw([Raw("demo", {"ips": [f"10.5.9.{i}"], "ts": i}, "o") for i in range(40)])
    _runner(archive).run_once()
    watched, listener = _watched(archive)
    try:
        progress = watched.progress("fake-ips", DEMO)
    finally:
        watched.close()
    assert (progress.processed, progress.pending, progress.lag_seconds) == (40, 0, 0.0)
    # Only the range after the checkpoint is counted: empty, whatever the archive's size.
    assert all(_both_bounded(q) for q in listener.reads())
    assert not [name for name, _ in listener.seen if name == "find"]


def test_pending_and_lag_before_a_run(archive: Archive) -> None:
    archive.collection.insert_one(_late({"ips": ["10.6.0.1"], "ts": 1}, year=2020))
    archive.insert_raw([Raw("demo", {"ips": ["10.6.0.2"], "ts": 2}, "o")])
    progress = archive.progress("fake-ips", DEMO)
    assert progress.pending == 2
    assert progress.lag_seconds > 3600 * 24 * 365, "the age of the oldest pending document"


def test_legacy_marks_are_honoured_and_bad_bookkeeping_fields_ignored(archive: Archive) -> None:
    marked = {**Raw("demo", {"ips": ["10.7.0.1"], "ts": 1}, "o").doc, "filters": ["fake-ips"]}
    odd = [
        {**Raw("demo", {"ips": [f"10.7.1.{i}"], "ts": 1}, "o").doc, **fields}
        for i, fields in enumerate(
            [{"filters": "fake-ips"}, {"_failed": 5}, {"_failed": {"fake-ips": "x"}}, {"_ref": 5}]
        )
    ]
    archive.collection.insert_many([marked, *odd])
    summary = _runner(archive).run_once()
    assert summary.filters["ips"].processed == 4, "only the documents not marked done"
    assert archive.collection.count_documents({"itype": "event", "data.ipv4": "10.7.0.1"}) == 0
    assert archive.progress("fake-ips", DEMO).processed == 5


def test_write_marks_still_writes_the_original_marks(archive: Archive) -> None:
    [raw] = [Raw("demo", {"ips": ["10.8.0.1"], "ts": 1}, "o")]
    archive.insert_raw([raw])
    _runner(archive, write_marks=True).run_once()
    stored = archive.collection.find_one({"_hash": raw._hash})
    assert stored["filters"] == ["fake-ips"] and len(stored["_ref"]) == 2
    assert _runner(archive).run_once().total().handled == 0


def test_a_raw_document_near_16_mb_is_failed_without_being_written_to(archive: Archive) -> None:
    big = Raw("demo", {"bad": "x" * (15 * 1024 * 1024)}, "o")
    archive.insert_raw([big])
    summary = _runner(archive).run_once()
    assert summary.filters["ips"].failed == 1
    [failure] = archive.failures("fake-ips")
    assert failure.hash == big._hash and failure.record["error"] == "InputError"
    assert archive.progress("fake-ips", DEMO).pending == 0


_KILLED_IN_RELEASE = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.leases import Leases
from cybexp_core.plugins import load_filters
from cybexp_core.worker import Runner
from fakes import entry_point

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

Leases.release = die  # after the outputs and records, before the lease is released
settings = Settings(mongo_url={url!r}, db={db!r}, lease_seconds={lease})
filters = load_filters(entry_points_=[entry_point("ips", "fakes:ip_sightings")]).filters
Runner(Archive.connect(settings), filters, settings).run_once()
"""


def _killed_in_release(archive: Archive, lease_seconds: float) -> None:
    db = archive.collection.database
    script = _KILLED_IN_RELEASE.format(
        tests=str(Path(__file__).parent),
        url=_url(archive),
        db=db.name,
        lease=lease_seconds,
    )
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], timeout=120)
    assert done.returncode == -9


def _store(archive: Archive, start: int, count: int) -> None:
    raws = [Raw("demo", {"ips": [f"10.9.0.{i}"], "ts": i}, "o") for i in range(start, count)]
    archive.insert_raw(raws)


def test_a_lease_left_by_a_kill_in_release_never_sticks(archive: Archive) -> None:
    """Issue 17 item 1: the taken-over lease is released, later runs do the new work."""
    archive.ensure_indexes()
    _store(archive, 0, 5)
    _killed_in_release(archive, lease_seconds=2)
    time.sleep(3)
    _runner(archive, lease_seconds=2).run_once()
    _store(archive, 5, 10)
    time.sleep(3)
    summary = _runner(archive, lease_seconds=2).run_once()
    assert summary.filters["ips"].processed == 5
    progress = archive.progress("fake-ips", DEMO)
    assert (progress.pending, progress.processed, progress.leases) == (0, 10, [])


def test_a_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(archive: Archive) -> None:
    """Issue 17 item 2: no waiting for the 600 s lease of a killed worker."""
    archive.ensure_indexes()
    _store(archive, 0, 5)
    _killed_in_release(archive, lease_seconds=600)
    [lease] = archive.progress("fake-ips", DEMO).leases
    assert lease["pid"] != os.getpid() and lease["started"]
    assert _runner(archive).run_once().filters["ips"].processed == 5
    progress = archive.progress("fake-ips", DEMO)
    assert (progress.pending, progress.processed, progress.leases) == (0, 5, [])


def test_a_stop_mid_batch_records_what_is_done_and_gives_the_rest_back(
    archive: Archive, monkeypatch: Any
) -> None:
    _store(archive, 0, 10)
    runner = _runner(archive, batch_size=10)
    calls = []
    call = Runner._call

    def counting(self: Runner, flt: Any, doc: Any) -> Any:
        calls.append(doc["_hash"])
        if len(calls) == 3:
            self.stop_event.set()  # SIGTERM while the third document is in hand
        return call(self, flt, doc)

    monkeypatch.setattr(Runner, "_call", counting)
    batches: list[Any] = []
    runner.on_batch = lambda flt, key, stats, seconds: batches.append((key, stats.processed))
    assert runner.run_once().filters["ips"].processed == 3
    assert batches == [("fake-ips|raw|demo", 3)]
    [rest] = archive.progress("fake-ips", DEMO).leases
    assert rest["until"] == 0, "the unfinished part is free for another worker at once"
    monkeypatch.undo()
    assert _runner(archive, batch_size=10).run_once().filters["ips"].processed == 7
    progress = archive.progress("fake-ips", DEMO)
    assert (progress.processed, progress.pending, progress.leases) == (10, 0, [])
    assert archive.collection.count_documents({"itype": "event"}) == 10


def test_a_recent_verification_recounts_the_whole_lookback_unless_a_stream_saw_every_insert(
    archive: Archive,
) -> None:
    """Arrivals narrow the recount only while a stream runs without a break."""
    archive.insert_raw([Raw("demo", {"ips": [f"10.5.8.{i}"], "ts": i}, "o") for i in range(20)])
    _runner(archive, batch_size=5).run_once()
    watched, listener = _watched(archive)
    try:
        runner = _runner(watched, batch_size=5)
        [flt] = runner.filters
        runner.arrivals = arrivals = Arrivals()

        def recounts() -> int:
            listener.seen.clear()
            assert runner.verify(flt, recent_only=True).handled == 0
            return len(listener.reads())

        assert recounts() > 1, "no stream yet: the whole lookback"
        arrivals.following(True)
        assert recounts() > 1, "the stream has just started: inserts before it were not seen"
        assert recounts() == 0, "a stream without a break saw nothing arrive"
        arrivals.following(False)
        arrivals.following(True)
        assert recounts() > 1, "the stream was lost: the whole lookback again"
    finally:
        watched.close()


def test_a_trickle_of_one_document_windows_is_verified_with_one_count_per_batch(
    archive: Archive,
) -> None:
    """A daemon at a trickle commits a window per document or two; a verification recounts
    a batch of such neighbours with one count and merges them, and still finds a late
    document among them."""
    runner = _runner(archive, batch_size=10)
    late = Raw("demo", {"ips": ["10.5.9.99"], "ts": 99}, "o").doc
    for i in range(20):
        if i == 8:
            late["_id"] = ObjectId()  # between the 8th and the 9th, inserted at the end
        archive.collection.insert_one(Raw("demo", {"ips": [f"10.5.9.{i}"], "ts": i}, "o").doc)
        runner.drain(runner.filters[0])  # claims only, as the daemon's turns
    key = "fake-ips|raw|demo"
    windows = archive.windows.collection
    assert windows.count_documents({"key": key}) >= 20, "a window per claim"
    watched, listener = _watched(archive)
    try:
        checker = _runner(watched, batch_size=10)
        [flt] = checker.filters
        assert checker.verify(flt).handled == 0
        assert len(listener.reads()) <= 4, "one count per batch of windows, not per window"
        assert windows.count_documents({"key": key}) <= 3, "neighbours merged"
        archive.collection.insert_one(late)
        assert checker.verify(flt).processed == 1, "the late document among them"
    finally:
        watched.close()
    assert archive.progress("fake-ips", DEMO).processed == 21
