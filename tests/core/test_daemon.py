"""The daemon loop of ``run`` against a live server: change streams, polling, metrics,
heartbeats, logs, stopping, the summary."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import monitoring

from cybexp_core import Consumes, Raw
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.daemon import Daemon
from cybexp_core.heartbeat import WORKERS_COLLECTION, describe_workers, worker_rows
from cybexp_core.leases import STATE_COLLECTION, Leases
from cybexp_core.logs import JsonFormatter, TextFormatter
from cybexp_core.metrics import Metrics
from cybexp_core.owner import Owner
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.server import LocalServer
from cybexp_core.testing import _fresh_archive
from cybexp_core.worker import Runner, RunSummary
from fakes import entry_point

IPS = entry_point("ips", "fakes:ip_sightings")
CORRELATE = entry_point("correlate", "fakes:ip_correlator")


def _filters(*eps: Any) -> list[LoadedFilter]:
    report = load_filters(entry_points_=list(eps))
    assert not report.errors, report.errors
    return report.filters


def _store(archive: Archive, *datas: dict[str, Any]) -> None:
    archive.insert_raw([Raw("demo", data, "org1") for data in datas])


@pytest.fixture(scope="module")
def replica_set_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server that advertises a single-node replica set: change streams work."""
    storage = tmp_path_factory.mktemp("secantus-rs") / "data"
    server = LocalServer(storage, sync_on_commit=False, standalone=False).start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
def streamed(replica_set_uri: str) -> Iterator[Archive]:
    """A fresh database on the replica-set server."""
    yield from _fresh_archive(replica_set_uri)


class Running:
    """A daemon in a thread for the ``with`` block."""

    def __init__(
        self,
        archive: Archive,
        metrics: Metrics | None = None,
        eps: tuple[Any, ...] = (IPS, CORRELATE),
        **settings: Any,
    ) -> None:
        self.runner = Runner(archive, _filters(*eps), Settings(mongo_url="x", **settings))
        self.daemon = Daemon(self.runner, metrics)
        self.summary: RunSummary | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.summary = self.daemon.run()

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.stop_event.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _until(condition: Callable[[], object], what: str, timeout: float = 30) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, what
        time.sleep(0.01)
    return time.monotonic() - started


def _done(archive: Archive) -> int:
    return archive.progress("fake-ips", [Consumes.raw("demo")]).processed


def test_the_daemon_picks_up_new_data_stops_on_request_and_counts_its_time(
    archive: Archive,
) -> None:
    with Running(archive, max_idle=0.2) as running:
        time.sleep(0.5)  # both filters idle now
        _store(archive, {"ips": ["10.9.9.9"], "ts": 5})
        _until(lambda: archive.collection.count_documents({"itype": "session"}), "not processed")
    assert archive.progress("fake-ips", [Consumes.raw("demo")]).processed == 1
    summary = running.summary
    assert summary is not None
    assert summary.seconds >= 0.5, "the summary gives the time the daemon ran"
    assert summary.filters["ips"].processed == 1


def test_through_the_change_stream_a_raw_document_and_its_chain_are_done_within_a_second(
    streamed: Archive,
) -> None:
    coll = streamed.collection
    with Running(streamed, max_idle=30) as running:  # polling alone would take up to 30 s
        _until(lambda: running.daemon.mode == "stream", "no change stream")
        time.sleep(2.5)  # idle now: the next poll is seconds away
        for n in range(3):
            _store(streamed, {"ips": [f"10.8.0.{n}"], "ts": n})
            raw = _until(lambda n=n: _done(streamed) == n + 1, "raw")
            chain = _until(
                lambda n=n: coll.count_documents({"itype": "session"}) == n + 1, "chained"
            )
            assert raw < 1.0, f"raw document processed {raw:.2f}s after its insert"
            assert raw + chain < 1.0, f"chained output {raw + chain:.2f}s after the insert"
    saved = coll.database[STATE_COLLECTION].find_one({"_id": f"stream:{coll.name}"})
    assert saved is not None and saved.get("token"), "the resume token is kept"


def test_without_change_streams_it_says_so_once_and_polls(
    archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cybexp_core")
    with Running(archive, max_idle=0.3) as running:
        _until(
            lambda: running.daemon.watcher and not running.daemon.watcher.available, "no fallback"
        )
        _store(archive, {"ips": ["10.7.0.1"], "ts": 1})
        _until(lambda: archive.collection.count_documents({"itype": "session"}), "not polled")
        assert running.daemon.mode == "polling"
    fallbacks = [r for r in caplog.records if "change streams unavailable" in r.getMessage()]
    assert len(fallbacks) == 1


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name:
            return float(value)
    raise AssertionError(f"{name} not in the metrics")


def test_metrics_health_and_readiness_are_served_and_the_counters_move(
    streamed: Archive,
) -> None:
    metrics = Metrics()
    base = f"http://127.0.0.1:{metrics.serve(0)}"
    assert _get(base + "/healthz")[0] == 200
    assert _get(base + "/readyz")[0] == 503, "not ready before the daemon runs"
    processed = 'cybexp_documents_total{filter="ips",outcome="processed"}'
    try:
        with Running(streamed, metrics, max_idle=0.5) as running:
            _until(lambda: running.daemon.mode == "stream", "no change stream")
            _until(lambda: processed in _get(base + "/metrics")[1], "no filter series")
            assert _sample(_get(base + "/metrics")[1], processed) == 0
            _store(
                streamed, {"ips": ["10.6.0.1", "10.6.0.2"], "ts": 1}, {"ips": ["10.6.0.3"], "ts": 2}
            )
            _until(lambda: _sample(_get(base + "/metrics")[1], processed) == 2, "counter still")
            text = _get(base + "/metrics")[1]
            assert _sample(text, 'cybexp_instances_written_total{filter="ips"}') == 3
            assert _sample(text, 'cybexp_batch_seconds_count{filter="ips"}') >= 1
            assert _sample(text, "cybexp_database_up") == 1
            assert _sample(text, "cybexp_plugins_loaded") == 2
            assert _get(base + "/readyz")[0] == 200
    finally:
        metrics.close()


def test_a_running_worker_has_a_heartbeat_that_status_shows(archive: Archive) -> None:
    workers = archive.collection.database[WORKERS_COLLECTION]
    with Running(archive, max_idle=0.2):
        _store(archive, {"ips": ["10.5.0.1"], "ts": 1})
        _until(lambda: archive.collection.count_documents({"itype": "session"}), "not processed")
        _until(lambda: worker_rows(workers), "no heartbeat")
        rows = worker_rows(workers)
        assert len(rows) == 1 and rows[0]["pid"] > 0 and rows[0]["started"]
        assert describe_workers(rows)[0] == "workers running now: 1"
    assert worker_rows(workers) == [], "a stopped worker's heartbeat is removed"


def test_one_info_line_per_batch_and_per_change_of_state(
    archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cybexp_core")
    metrics = Metrics()
    workers = archive.collection.database[WORKERS_COLLECTION]
    with Running(archive, metrics, max_idle=0.2, batch_size=2) as running:
        time.sleep(0.5)
        _store(archive, {"ips": ["10.4.0.1", "10.4.0.2"], "ts": 1})
        _until(lambda: archive.collection.count_documents({"itype": "session"}) == 2, "not done")
        _store(archive, *({"ips": [f"10.4.1.{n}"], "ts": n} for n in range(5)))
        _until(lambda: _done(archive) == 6, "not done")
        time.sleep(0.5)
        [beat] = worker_rows(workers)
        assert beat["last_batch"] is not None, "the heartbeat is written after a batch"
    messages = [r.getMessage() for r in caplog.records]
    batch = [m for m in messages if m.startswith("ips: 1 documents")]
    assert batch and "2 instances in" in batch[0] and "documents/s" in batch[0]
    lines = [m for m in messages if m.startswith("ips: ") and " documents (" in m]
    sizes = [int(m.split()[1]) for m in lines]
    assert sum(sizes) == 6 and max(sizes) == 2 and len(lines) >= 4, "a line per batch of 2"
    histogram = metrics.registry.get_sample_value("cybexp_batch_seconds_count", {"filter": "ips"})
    assert histogram == len(lines), "the batch-duration histogram counts each batch"
    assert running.summary is not None and running.summary.filters["ips"].processed == 6
    assert any(m.startswith("idle: nothing pending") for m in messages)
    states = [m[:5] for m in messages if m.startswith("idle:") or " documents (" in m]
    repeated = [n for n in range(1, len(states)) if states[n] == states[n - 1] == "idle:"]
    assert not repeated, "idle is logged when it begins (after work), not on every poll"


def test_log_lines_carry_utc_iso_times_and_json_lines_parse() -> None:
    record = logging.LogRecord(
        "cybexp_core.daemon", logging.INFO, __file__, 1, "a %s", ("b",), None
    )
    record.created = 0.5
    assert TextFormatter().format(record) == "1970-01-01T00:00:00.500Z INFO cybexp_core.daemon: a b"
    body = json.loads(JsonFormatter().format(record))
    assert body["time"] == "1970-01-01T00:00:00.500Z"
    assert (body["level"], body["logger"], body["message"]) == ("INFO", "cybexp_core.daemon", "a b")


def test_no_pymongo_noise_at_verbose(tmp_path: Path) -> None:
    from cybexp_core.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    try:
        setup_logging(logging.DEBUG)
        assert logging.getLogger("pymongo").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("cybexp_core").getEffectiveLevel() == logging.DEBUG
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_a_trickle_of_documents_claimed_one_by_one_never_stalls(archive: Archive) -> None:
    """The latency benchmark's stall: each thin claim doubled the claim window until, after
    ~960 claims, its width overflowed (OverflowError) and the daemon died. 1,000 documents
    inserted and claimed one at a time are each claimed."""
    archive.ensure_indexes()
    owner = Owner.here("trickle")
    key = Leases.key("fake-ips", Consumes.raw("demo"))
    for n in range(1000):
        [_id] = archive.collection.insert_many([Raw("demo", {"n": n}, "org1").doc]).inserted_ids
        claim = archive.leases.claim(
            key, {"itype": "raw", "sub_type": "demo"}, token=f"t{n}", owner=owner,
            limit=1000, lease_seconds=60,
        )
        assert claim is not None and [d["_id"] for d in claim.docs] == [_id], f"claim {n + 1}"
        archive.leases.release(claim, {"processed": 1})
    assert archive.progress("fake-ips", [Consumes.raw("demo")]).processed == 1000


def test_a_filter_with_a_huge_backlog_does_not_starve_the_others(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round-robin turns: a document for ``ips`` is done while ``slow`` still has a backlog."""
    monkeypatch.setattr("cybexp_core.daemon.TURN_SECONDS", 0.3)
    slow = entry_point("slow", "fakes:slow_sightings")
    archive.insert_raw(
        [Raw("slow", {"ip": f"10.3.0.{n}", "ts": n, "sleep": 0.1}, "org1") for n in range(40)]
    )
    slow_queue = [Consumes.raw("slow")]
    with Running(archive, eps=(slow, IPS), max_idle=0.2, batch_size=2):
        _until(lambda: archive.progress("fake-slow", slow_queue).processed, "slow not started")
        _store(archive, {"ips": ["10.3.9.9"], "ts": 1})
        _until(lambda: _done(archive) == 1, "ips starved", timeout=30)
        left = archive.progress("fake-slow", slow_queue).pending
        assert left > 10, "ips was served while slow's backlog waited"
        _until(lambda: archive.progress("fake-slow", slow_queue).pending == 0, "slow unfinished")


class _Recounts(monitoring.CommandListener):
    """The lower ``_id`` bound of every count of the instance collection."""

    def __init__(self) -> None:
        self.bounds: list[ObjectId] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name != "aggregate" or event.command.get("aggregate") != "instance":
            return
        for stage in event.command["pipeline"]:
            bound = stage.get("$match", {}).get("_id", {})
            if isinstance(bound, dict) and "$gt" in bound:
                self.bounds.append(bound["$gt"])

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def test_with_a_stream_a_late_document_is_found_without_recounting_older_windows(
    streamed: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream reports every insert, late ones too: the recent verification recounts from
    the window of the oldest arrival, not the whole lookback (600 s) every time."""
    monkeypatch.setattr("cybexp_core.worker.VERIFY_RECENT_SECONDS", 0.3)
    base = time.time() - 400  # 40 documents 5 s apart, all inside the lookback
    docs = [Raw("demo", {"ips": [f"10.6.0.{n}"], "ts": n}, "org1").doc for n in range(40)]
    for n, doc in enumerate(docs):
        doc["_id"] = ObjectId.from_datetime(datetime.fromtimestamp(base + 5 * n, timezone.utc))
    streamed.collection.insert_many(docs)
    listener = _Recounts()
    host, port = streamed.collection.database.client.address
    settings = Settings(
        mongo_url=f"mongodb://{host}:{port}/?retryWrites=false",
        db=streamed.collection.database.name,
    )
    watched = Archive.connect(settings, event_listeners=[listener])
    try:
        with Running(watched, eps=(IPS,), max_idle=0.2, batch_size=5) as running:
            _until(lambda: _done(streamed) == 40 and running.daemon.mode == "stream", "not done")
            time.sleep(1.5)  # a few recent verifications: the arrivals are known now
            listener.bounds.clear()
            late = Raw("demo", {"ips": ["10.6.1.1"], "ts": 99}, "org1").doc
            late["_id"] = ObjectId.from_datetime(
                datetime.fromtimestamp(base + 5 * 32 + 2, timezone.utc)
            )
            streamed.collection.insert_one(late)
            _until(lambda: _done(streamed) == 41, "the late document was not found", timeout=10)
            time.sleep(1.0)
    finally:
        watched.close()
    assert listener.bounds, "the late document's window was recounted"
    assert min(listener.bounds) >= docs[25]["_id"], "windows older than the arrival recounted"
