"""The runner: claim pending documents per filter, run the filter, write outputs, then mark.

Order of effects for one batch, so a crash at any point loses and duplicates
nothing: (1) lease the documents, (2) run the filter on each one in its own
try, (3) write every output with idempotent bulk writes, (4) only then mark
the inputs (:meth:`Archive.commit` of one outcome per document). A crash
before (4) leaves the documents pending; reprocessing rewrites the same
hashes, which changes nothing. How outcomes are stored is the business of
``bookkeeping.py`` alone: the runner never names a stored field.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs
from attrs import define, field
from bson import ObjectId
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    OperationFailure,
    PyMongoError,
)

from cybexp_core.backend import Archive
from cybexp_core.bookkeeping import (
    Failed,
    NotForIt,
    Outcome,
    Processed,
    failure_record,
    open_document,
)
from cybexp_core.config import Settings
from cybexp_core.declaration import Consumes
from cybexp_core.errors import InputError
from cybexp_core.integrity import HashMismatch, verify_raw
from cybexp_core.output_limits import OutputTooLarge, bound_outputs
from cybexp_core.plugins import LoadedFilter

__all__ = ["TRANSIENT_ERRORS", "FilterStats", "RunSummary", "Runner"]

log = logging.getLogger(__name__)

#: Database errors that mean "try again later", never "this input is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (AutoReconnect, ConnectionFailure)


@define
class FilterStats:
    """Counts for one filter over a run."""

    processed: int = 0
    failed: int = 0
    skipped: int = 0
    problems: int = 0
    instances: int = 0
    inserted: int = 0
    batches: int = 0

    def add(self, other: FilterStats) -> None:
        for item in attrs.fields(FilterStats):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def handled(self) -> int:
        return self.processed + self.failed + self.skipped


@define
class RunSummary:
    """Per-filter counts of a run, keyed by filter name."""

    filters: dict[str, FilterStats] = field(factory=dict)
    seconds: float = 0.0

    def total(self) -> FilterStats:
        total = FilterStats()
        for stats in self.filters.values():
            total.add(stats)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "filters": {name: vars_of(stats) for name, stats in self.filters.items()},
        }


def vars_of(stats: FilterStats) -> dict[str, int]:
    return attrs.asdict(stats)


def _describe_write_error(exc: BaseException) -> tuple[str, str]:
    """A short error type and message for a failed write (never the documents themselves)."""
    if isinstance(exc, DocumentTooLarge):
        return "OutputTooLarge", "a document is larger than MongoDB's 16 MB limit"
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors") or [{}]
        first = errors[0]
        message = str(first.get("errmsg", "write error"))[:300]
        if first.get("code") == 10334 or "too large" in message:
            return "OutputTooLarge", message
        return "OutputNotStored", f"{message} ({len(errors)} write errors)"
    return "OutputNotStored", str(exc)[:300]


def _reads_only_raw(flt: LoadedFilter) -> bool:
    return all(consumes.itype == "raw" for consumes in flt.info.consumes)


@define
class Runner:
    """Runs loaded filters over an archive; ``run_once`` drains (the daemon loop is
    :class:`cybexp_core.daemon.Daemon`)."""

    archive: Archive
    filters: Sequence[LoadedFilter]
    settings: Settings
    worker_id: str = field(factory=lambda: uuid.uuid4().hex[:12])
    stop_event: threading.Event = field(factory=threading.Event)
    on_progress: Callable[[int], None] | None = None
    _full_pass: dict[str, float] = field(factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ one document

    def _call(
        self, flt: LoadedFilter, doc: dict[str, Any]
    ) -> tuple[Any, BaseException | None, int]:
        """Run the filter, trying again at once after an unexpected error (not after
        :class:`InputError`); returns ``(result, last error, attempts)``."""
        error: BaseException | None = None
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                return flt.run(doc), None, attempt
            except (MemoryError, KeyboardInterrupt, SystemExit):
                raise
            except InputError as exc:
                return None, exc, attempt
            except Exception as exc:  # noqa: BLE001 - each document is isolated
                error = exc
        return None, error, self.settings.max_attempts

    def _checked_call(
        self, flt: LoadedFilter, doc: dict[str, Any]
    ) -> tuple[Any, BaseException | None, int]:
        """:meth:`_call` for a document whose raw ``_hash`` is its own, with its outputs
        bounded by ``settings.max_outputs`` and MongoDB's size limit (``output_limits``)."""
        try:
            size = verify_raw(doc) if doc.get("itype") == "raw" else 0
        except HashMismatch as exc:
            return None, exc, 1
        result, error, attempts = self._call(flt, doc)
        if result is None:
            return result, error, attempts
        try:
            kept, problems = bound_outputs(
                result.instances, self.settings.max_outputs, input_size=size
            )
        except OutputTooLarge as exc:
            return None, exc, attempts
        if problems:
            result = attrs.evolve(result, instances=kept, problems=(*result.problems, *problems))
        return result, None, attempts

    def _process(self, flt: LoadedFilter, doc: dict[str, Any], stats: FilterStats) -> Outcome:
        info = flt.info
        ticket = open_document(doc, info.id)
        result, error, attempts = self._checked_call(flt, doc)
        if error is not None:
            attempts += ticket.attempts_before(info.version)
            record = failure_record(info, error, attempts, final=True)
            stats.failed += 1
            log.warning(
                "%s failed on %s: %s: %s",
                info.name,
                doc.get("_hash"),
                record["error"],
                record["message"][:300],
            )
            return Failed(ticket, record)
        if result is None:
            stats.skipped += 1
            return NotForIt(ticket)
        stats.processed += 1
        stats.instances += len(result.instances)
        stats.problems += len(result.problems)
        return Processed(ticket, result.instances, result.problems)

    # ------------------------------------------------------------------ one batch

    def _write(self, flt: LoadedFilter, outcomes: list[Outcome], stats: FilterStats) -> None:
        """Write all outputs at once; if that fails for a reason other than the database being
        away, write each document's outputs alone so only the offender fails (its outcome
        becomes :class:`Failed`)."""
        done = [o for o in outcomes if isinstance(o, Processed)]
        try:
            stats.inserted += self.archive.write_instances(
                inst for outcome in done for inst in outcome.instances
            ).inserted
            return
        except TRANSIENT_ERRORS:
            raise
        except (BulkWriteError, DocumentTooLarge, OperationFailure) as exc:
            log.warning(
                "%s: batch write failed (%s); writing documents one by one",
                flt.info.name,
                _describe_write_error(exc)[1],
            )
        for index, outcome in enumerate(outcomes):
            if not isinstance(outcome, Processed) or not outcome.instances:
                continue
            try:
                stats.inserted += self.archive.write_instances(outcome.instances).inserted
            except TRANSIENT_ERRORS:
                raise
            except (BulkWriteError, DocumentTooLarge, OperationFailure, ValueError) as exc:
                stats.processed -= 1
                stats.failed += 1
                error, message = _describe_write_error(exc)
                record = failure_record(
                    flt.info,
                    exc,
                    1,
                    final=True,
                    error=error,
                    message=f"output could not be stored: {message}",
                )
                outcomes[index] = Failed(outcome.ticket, record)

    def run_batch(self, flt: LoadedFilter, consumes: Consumes) -> FilterStats:
        """Claim, process, write and mark one batch; ``stats.batches`` is 0 when there was none."""
        fid = flt.info.id
        leases = self.archive.leases
        key = leases.key(fid, consumes)
        token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        docs = leases.claim(
            key,
            self.archive.pending_query(fid, flt.info.version, consumes),
            token=token,
            owner=self.worker_id,
            limit=self.settings.batch_size,
            lease_seconds=self.settings.lease_seconds,
        )
        stats = FilterStats()
        if not docs:
            return stats
        stats.batches = 1
        try:
            outcomes = [self._process(flt, doc, stats) for doc in docs]
            self._write(flt, outcomes, stats)
            self.archive.commit(fid, outcomes)
        except BaseException:
            with contextlib.suppress(PyMongoError):  # else the lease expires on its own
                leases.expire(key, token)
            raise
        leases.release(key, token)
        if self.on_progress is not None:
            self.on_progress(len(docs))
        return stats

    # ------------------------------------------------------------------ loops

    def drain(self, flt: LoadedFilter, *, full: bool = True) -> FilterStats:
        """Process everything pending for ``flt`` now.

        Claims walk the queue from its cursor; when they find nothing, the
        queue is rewound once and walked again, so documents written behind
        the cursor (by another process, or with an older ``_id``) are not left
        pending. ``full`` rewinds to the oldest document; otherwise only
        ``settings.lookback_seconds`` of ``_id`` time are walked again, with a
        full pass every ``settings.rescan_seconds``.
        """
        total = FilterStats()
        leases = self.archive.leases
        for consumes in flt.info.consumes:
            key = leases.key(flt.info.id, consumes)
            # A walk from the oldest document that finds nothing has done what the
            # rewound walk would do: no second pass then.
            from_oldest = leases.cursor(key) is None
            rewound = claimed = False
            while not self.stop_event.is_set():
                stats = self.run_batch(flt, consumes)
                total.add(stats)
                if stats.batches:
                    claimed = True
                    continue
                if rewound or (from_oldest and not claimed):
                    break
                leases.rewind(key, self._rewind_point(key, full))
                rewound = True
        return total

    def _rewind_point(self, key: str, full: bool) -> ObjectId | None:
        now = time.time()
        if full or now - self._full_pass.get(key, 0.0) >= self.settings.rescan_seconds:
            self._full_pass[key] = now
            return None
        since = datetime.fromtimestamp(now - self.settings.lookback_seconds, timezone.utc)
        return ObjectId.from_datetime(since)

    def run_once(self, max_passes: int = 50) -> RunSummary:
        """Drain all pending work, chained filters included, then return the counts.

        Passes repeat while any filter handled a document, so a filter that
        consumes another's output sees it in the same run. A later pass drains
        only the filters that can have new input: not those that read raw
        documents alone (filters never write raw documents, and each drain ends
        with its own pass over the whole queue), and not those since whose last
        drain no other filter wrote anything.
        """
        started = time.monotonic()
        summary = RunSummary({flt.info.name: FilterStats() for flt in self.filters})
        written = 0  # instances written so far in this run
        seen: dict[str, int] = {}  # ``written`` when each filter's last drain ended
        for number in range(max_passes):
            handled = 0
            for flt in self.filters:
                if self.stop_event.is_set():
                    break
                fid = flt.info.id
                if number and (_reads_only_raw(flt) or seen.get(fid) == written):
                    continue
                stats = self.drain(flt)
                summary.filters[flt.info.name].add(stats)
                handled += stats.handled
                written += stats.instances
                # Its own outputs came after its cursor: this drain walked them already.
                seen[fid] = written
            if handled == 0 or self.stop_event.is_set():
                break
        else:
            log.warning("run --once stopped after %d passes with work still appearing", max_passes)
        summary.seconds = time.monotonic() - started
        return summary


def select_filters(filters: Iterable[LoadedFilter], selectors: Sequence[str]) -> list[LoadedFilter]:
    """The filters named by ``selectors`` (name, id or entry point); all when empty."""
    chosen = [flt for flt in filters if not selectors or flt.matches(selectors)]
    return chosen
