"""``cybexp-analytics run`` without ``--once``: the daemon loop over a :class:`Runner`.

The runner knows how to drain one filter; this module decides *when*: every
filter has its own back-off, an outage of the database pauses work without
ending the loop, and ``runner.stop_event`` ends it.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from attrs import define, field
from pymongo.errors import PyMongoError

from cybexp_core.backend import Archive
from cybexp_core.backoff import Backoff
from cybexp_core.worker import TRANSIENT_ERRORS, FilterStats, Runner, RunSummary

__all__ = ["Daemon", "wait_for_database"]

log = logging.getLogger(__name__)


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


@define
class Daemon:
    """Drains each of ``runner``'s filters when it is due, until ``runner.stop_event`` is set."""

    runner: Runner
    _outage: bool = field(default=False, init=False)

    def run(self) -> RunSummary:
        """Loop until stopped; the summary counts everything handled, with the elapsed time."""
        runner = self.runner
        settings = runner.settings
        started = time.monotonic()
        summary = RunSummary({flt.info.name: FilterStats() for flt in runner.filters})
        backoffs = {
            flt.info.id: Backoff(settings.max_backoff, settings.max_idle) for flt in runner.filters
        }
        due = {flt.info.id: 0.0 for flt in runner.filters}
        log.info(
            "daemon started (pid %d): %s",
            os.getpid(),
            ", ".join(f.info.name for f in runner.filters),
        )
        try:
            while not runner.stop_event.is_set():
                flt = min(runner.filters, key=lambda f: due[f.info.id])
                wait = due[flt.info.id] - time.monotonic()
                if wait > 0 and runner.stop_event.wait(wait):
                    break
                backoff = backoffs[flt.info.id]
                try:
                    stats = runner.drain(flt, full=False)
                except TRANSIENT_ERRORS as exc:
                    if not self._outage:
                        log.error("database unavailable (%s); backing off", type(exc).__name__)
                    self._outage = True
                    due[flt.info.id] = time.monotonic() + backoff.failed()
                    continue
                except PyMongoError as exc:
                    log.exception("filter %s: database error: %s", flt.info.name, exc)
                    due[flt.info.id] = time.monotonic() + backoff.failed()
                    continue
                if self._outage:
                    log.warning("database reachable again; resuming")
                    self._outage = False
                summary.filters[flt.info.name].add(stats)
                pause = backoff.worked() if stats.handled else backoff.idle()
                due[flt.info.id] = time.monotonic() + pause
        finally:
            summary.seconds = time.monotonic() - started
        return summary
