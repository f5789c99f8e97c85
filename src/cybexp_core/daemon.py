"""``cybexp-analytics run`` without ``--once``: the daemon loop over a :class:`Runner`.

The runner knows how to drain one filter; this module decides *when*: a filter
runs when a change stream shows new input for it (``streams.py``), or when its
poll is due (every filter has its own back-off, the safety net). An outage of
the database pauses work without ending the loop, and ``runner.stop_event``
ends it. A filter's turn lasts about ``TURN_SECONDS`` (round-robin: a backlog of one
filter never starves the others). It logs one line per batch of work
(``Runner.on_batch``) and one per change of state, and feeds the metrics and the
heartbeat per batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from attrs import define, field
from bson import ObjectId
from pymongo.errors import PyMongoError

from cybexp_core.arrivals import Arrivals
from cybexp_core.backend import Archive
from cybexp_core.backoff import Backoff
from cybexp_core.declaration import Consumes
from cybexp_core.heartbeat import WORKERS_COLLECTION, Heartbeat
from cybexp_core.leases import STATE_COLLECTION, Leases
from cybexp_core.metrics import Metrics
from cybexp_core.plugins import LoadedFilter
from cybexp_core.streams import ChangeWatcher
from cybexp_core.worker import TRANSIENT_ERRORS, FilterStats, Runner, RunSummary

__all__ = ["TURN_SECONDS", "Daemon", "log_batch", "wait_for_database"]

log = logging.getLogger(__name__)
#: Seconds between refreshes of the pending / lag / leases gauges.
GAUGES_EVERY = 15.0
#: A filter's turn: after this many seconds of claims (at least one), the next due filter
#: runs, so a huge backlog of one filter never starves the others.
TURN_SECONDS = 2.0


def wait_for_database(archive: Archive, stop: threading.Event, *, cap: float = 60.0) -> bool:
    """Create the indexes, waiting with back-off (up to ``cap`` s apart) while the database
    cannot be reached; logs once when it waits and once when it starts. ``False`` if
    ``stop`` was set before the database answered."""
    backoff = Backoff(failure_cap=cap)
    waited = False
    while not stop.is_set():
        try:
            archive.ensure_indexes()
        except TRANSIENT_ERRORS as exc:
            if not waited:
                log.warning(
                    "database unreachable at start (%s); waiting for it, retrying with back-off",
                    type(exc).__name__,
                )
                waited = True
            stop.wait(backoff.failed())
            continue
        if waited:
            log.warning("database reachable; starting")
        return True
    return False


def log_batch(flt: LoadedFilter, _key: str, stats: FilterStats, seconds: float) -> None:
    """The INFO line of one batch (a :attr:`Runner.on_batch` callback)."""
    rate = stats.handled / seconds if seconds > 0 else 0.0
    log.info(
        "%s: %d documents (%d failed, %d not for it), %d instances in %.2fs (%.0f documents/s)",
        flt.info.name,
        stats.handled,
        stats.failed,
        stats.skipped,
        stats.instances,
        seconds,
        rate,
    )


@define
class Daemon:
    """Drains each of ``runner``'s filters when new input arrives or its poll is due, until
    ``runner.stop_event`` is set."""

    runner: Runner
    metrics: Metrics | None = None
    #: Follow change streams (falls back to polling where the server has none).
    streams: bool = True
    _outage: bool = field(default=False, init=False)
    _woken: set[str] = field(factory=set, init=False)
    _wake: threading.Event = field(factory=threading.Event, init=False)
    _lock: threading.Lock = field(factory=threading.Lock, init=False)
    watcher: ChangeWatcher | None = field(default=None, init=False)
    #: What the stream saw arrive, for the runner's recent verifications.
    arrivals: Arrivals = field(factory=Arrivals, init=False)
    _heartbeat: Heartbeat | None = field(default=None, init=False)
    _summary: RunSummary = field(factory=RunSummary, init=False)

    def _batch_done(self, flt: LoadedFilter, key: str, stats: FilterStats, seconds: float) -> None:
        """After each batch: its log line, its metrics, the heartbeat."""
        log_batch(flt, key, stats, seconds)
        self._summary.filters[flt.info.name].add(stats)  # counted even if the turn fails later
        if self.metrics is not None:
            self.metrics.batch(flt.info.name, stats, seconds)
        if self._heartbeat is not None:
            self._heartbeat.batch_done(flt.info.name)

    def _on_insert(self, fid: str, consumes: Consumes, oid: Any) -> None:
        if isinstance(oid, ObjectId):
            self.arrivals.seen(Leases.key(fid, consumes), oid)
        with self._lock:
            self._woken.add(fid)
        self._wake.set()

    def _start_watcher(self) -> None:
        if not self.streams:
            return
        collection = self.runner.archive.collection
        self.watcher = ChangeWatcher(
            collection,
            collection.database[STATE_COLLECTION],
            self.runner.filters,
            self._on_insert,
            self.runner.stop_event,
            self.arrivals.following,
        ).start()
        self.runner.arrivals = self.arrivals

    @property
    def mode(self) -> str:
        return self.watcher.mode if self.watcher is not None else "polling"

    def run(self) -> RunSummary:
        """Loop until stopped; the summary counts everything handled, with the elapsed time."""
        runner = self.runner
        settings = runner.settings
        started = time.monotonic()
        summary = self._summary = RunSummary(
            {flt.info.name: FilterStats() for flt in runner.filters}
        )
        backoffs = {
            flt.info.id: Backoff(settings.max_backoff, settings.max_idle) for flt in runner.filters
        }
        due = {flt.info.id: 0.0 for flt in runner.filters}
        heartbeat = self._heartbeat = Heartbeat(
            runner.archive.collection.database[WORKERS_COLLECTION], runner.worker_id
        )
        runner.on_batch = self._batch_done
        if self.metrics is not None:
            self.metrics.filters(f.info.name for f in runner.filters)
        log.info(
            "daemon started (pid %d): %s",
            os.getpid(),
            ", ".join(f.info.name for f in runner.filters),
        )
        self._start_watcher()
        idle = False
        gauges_due = 0.0
        try:
            while not runner.stop_event.is_set():
                now = time.monotonic()
                with self._lock:
                    for fid in self._woken:  # never later: a filter already due keeps its place
                        due[fid] = min(due[fid], now)
                        backoffs[fid].idles = 0
                    self._woken.clear()
                    self._wake.clear()
                if self.metrics is not None and now >= gauges_due:
                    gauges_due = now + GAUGES_EVERY
                    self._refresh_gauges(backoffs, due)
                flt = min(runner.filters, key=lambda f: due[f.info.id])
                wait = due[flt.info.id] - now
                if wait > 0:
                    if not idle and not self._outage:
                        idle = True
                        log.info("idle: nothing pending; waiting for new documents (%s)", self.mode)
                        heartbeat.update(force=True, current_filter=None, mode=self.mode)
                    self._wake.wait(min(wait, 0.5))
                    continue
                backoff = backoffs[flt.info.id]
                heartbeat.update(current_filter=flt.info.name, mode=self.mode)
                try:
                    stats, finished = runner.turn(flt, TURN_SECONDS)
                except TRANSIENT_ERRORS as exc:
                    self._database(False, exc)
                    due[flt.info.id] = time.monotonic() + backoff.failed()
                    continue
                except PyMongoError as exc:
                    pause = backoff.failed()
                    log.exception(
                        "%s: database error (%s); backing off %.0fs", flt.info.name, exc, pause
                    )
                    due[flt.info.id] = time.monotonic() + pause
                    continue
                self._database(True)
                if backoff.failures:
                    log.warning("%s: resumed after %d errors", flt.info.name, backoff.failures)
                if stats.handled:
                    idle = False
                # More pending (the turn ended): due now, behind the filters already due.
                pause = backoff.worked() if stats.handled or not finished else backoff.idle()
                due[flt.info.id] = time.monotonic() + pause
        finally:
            summary.seconds = time.monotonic() - started
            heartbeat.stop()
            if self.watcher is not None:
                self.watcher.join(timeout=2.0)
        return summary

    def _database(self, up: bool, exc: BaseException | None = None) -> None:
        if self.metrics is not None:
            self.metrics.set_database(up)
        if not up and not self._outage:
            log.error("database unavailable (%s); backing off", type(exc).__name__)
        elif up and self._outage:
            log.warning("database reachable again; resuming")
        self._outage = not up

    def _refresh_gauges(self, backoffs: dict[str, Backoff], due: dict[str, float]) -> None:
        """Pending count, lag and back-off per filter; leases held (a few cheap queries)."""
        metrics = self.metrics
        assert metrics is not None
        archive = self.runner.archive
        now = time.monotonic()
        try:
            for flt in self.runner.filters:
                pending, lag = _pending_and_oldest(archive, flt)
                metrics.pending.labels(flt.info.name).set(pending)
                metrics.lag.labels(flt.info.name).set(max(lag, 0.0))
                waiting = due[flt.info.id] - now if backoffs[flt.info.id].failures else 0.0
                metrics.backoff.labels(flt.info.name).set(max(waiting, 0.0))
            metrics.leases.set(archive.leases.count_held_by(self.runner.worker_id))
            metrics.set_database(True)
        except PyMongoError:
            metrics.set_database(False)
        metrics.stream.set(1 if self.mode == "stream" else 0)


def _pending_and_oldest(archive: Archive, flt: LoadedFilter) -> tuple[int, float]:
    """Pending documents and the age of the oldest (seconds), from the checkpoints."""
    progress = archive.progress(flt.info.id, flt.info.consumes)
    return progress.pending, progress.lag_seconds
