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

from cybexp_core import oids
from cybexp_core.arrivals import Arrivals
from cybexp_core.backend import Archive
from cybexp_core.bookkeeping import (
    Failed,
    NotForIt,
    Outcome,
    Processed,
    Ticket,
    failure_record,
    selector,
    tally,
)
from cybexp_core.config import Settings
from cybexp_core.declaration import Consumes
from cybexp_core.errors import InputError
from cybexp_core.gc_pause import collection_paused
from cybexp_core.integrity import HashMismatch, verify_raw
from cybexp_core.leases import Claim, Leases
from cybexp_core.models import Event, Session
from cybexp_core.output_limits import OutputTooLarge, bound_outputs
from cybexp_core.owner import Owner
from cybexp_core.plugins import LoadedFilter

__all__ = ["TRANSIENT_ERRORS", "FilterStats", "RunSummary", "Runner"]

log = logging.getLogger(__name__)

#: ``run``: how often the windows of the last ``lookback_seconds`` are verified (seconds).
VERIFY_RECENT_SECONDS = 10.0
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


def _provenance(outcomes: Iterable[Processed]) -> dict[str, list[str]]:
    """Output event and session hashes -> the raw documents they came from."""
    sources: dict[str, list[str]] = {}
    for outcome in outcomes:
        ticket = outcome.ticket
        if not ticket.raw or not isinstance(ticket.hash, str):
            continue
        for inst in outcome.instances:
            if isinstance(inst, (Event, Session)):
                sources.setdefault(inst._hash, []).append(ticket.hash)
    return sources


def _new_work(
    claim: Claim, outcomes: Sequence[Outcome], settled: Sequence[Ticket]
) -> dict[str, int]:
    """What a range processed again did that its last processing had not: documents that
    failed before (another version, or a retry) count as tried again; the others only as
    far as the range's counts grew (late documents)."""
    retried = [o for o in outcomes if o.ticket.previous]
    fresh = tally([o for o in outcomes if not o.ticket.previous], settled)
    base = dict(claim.base)
    base["failed"] = base.get("failed", 0) - len(retried)
    again = tally(retried)
    return {name: again[name] + max(0, fresh[name] - base.get(name, 0)) for name in fresh}


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
    #: Called after each batch with ``(filter, queue key, stats, seconds)`` (metrics, logs).
    on_batch: Callable[[LoadedFilter, str, FilterStats, float], None] | None = None
    #: What a change stream saw arrive (the daemon's): recent verifications recount less.
    arrivals: Arrivals | None = None
    #: The claims this runner holds now, by lease token.
    held: dict[str, Claim] = field(factory=dict, init=False)
    #: When each filter's windows were last verified by this runner (monotonic seconds).
    _verified: dict[str, float] = field(factory=dict, init=False, repr=False)
    #: Inputs whose queue index this runner made sure of (``Archive.ensure_queue_index``).
    _indexed: set[Consumes] = field(factory=set, init=False, repr=False)
    #: Filters whose failures of other versions this runner offered again.
    _retried: set[str] = field(factory=set, init=False, repr=False)
    #: Per filter, the input its next turn starts with (``turn``).
    _next_input: dict[str, int] = field(factory=dict, init=False, repr=False)

    @property
    def owner(self) -> Owner:
        """This process, as it signs its leases."""
        return Owner.here(self.worker_id)

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

    def _process(
        self, flt: LoadedFilter, doc: dict[str, Any], ticket: Ticket, stats: FilterStats
    ) -> Outcome:
        info = flt.info
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
                (inst for outcome in done for inst in outcome.instances), _provenance(done)
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
                stats.inserted += self.archive.write_instances(
                    outcome.instances, _provenance([outcome])
                ).inserted
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

    def _token(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:12]}"

    def _run_claim(self, flt: LoadedFilter, claim: Claim) -> FilterStats:
        """Process, write and record one claim, then release its lease.

        When ``stop_event`` is set during the claim, the document in hand is
        finished, what is done is written and recorded, and the rest of the
        lease is given back at once (split off, expired) for another worker.
        The garbage collector waits until the claim is done (``gc_pause.py``).
        """
        with collection_paused():
            return self._run_claim_now(flt, claim)

    def _run_claim_now(self, flt: LoadedFilter, claim: Claim) -> FilterStats:
        info = flt.info
        started = time.monotonic()
        # A claim of empty space (no lease) is no batch, but claims go on after it.
        stats = FilterStats(batches=int(claim.token is not None))
        if claim.token is not None:
            self.held[claim.token] = claim
        try:
            opened = self.archive.open_claim(info.id, info.version, claim)
            outcomes: list[Outcome] = []
            settled: list[Ticket] = []
            for done, (doc, ticket) in enumerate(opened):
                if self.stop_event.is_set() and claim.token is not None and not claim.base:
                    claim = self._give_back(claim, opened, done)
                    if claim.token is None:
                        return FilterStats()
                    break
                if ticket.settled:
                    settled.append(ticket)
                else:
                    outcomes.append(self._process(flt, doc, ticket, stats))
            self._write(flt, outcomes, stats)
            gained = self.archive.commit(
                info.id, claim, outcomes, settled, write_marks=self.settings.write_marks
            )
        except BaseException:
            if claim.token is not None:
                with contextlib.suppress(PyMongoError):  # else the lease expires on its own
                    self.archive.leases.expire(claim.key, claim.token)
            raise
        finally:
            self.held.pop(claim.token or "", None)
        if claim.base and gained:  # processed again: count only the new work
            for name, value in _new_work(claim, outcomes, settled).items():
                setattr(stats, name, value)
        if self.on_progress is not None and claim.docs:
            self.on_progress(len(claim.docs))
        if self.on_batch is not None and stats.batches:
            self.on_batch(flt, claim.key, stats, time.monotonic() - started)
        return stats

    def _give_back(self, claim: Claim, opened: list[tuple[dict, Ticket]], done: int) -> Claim:
        """Stop after ``done`` documents: the claim shrinks to them and the rest of its
        range becomes a lease anyone may take now (all of it when ``done`` is 0)."""
        if done == 0:
            self.archive.leases.expire(claim.key, claim.token or "")
            self.held.pop(claim.token or "", None)
            log.info("%s: stopping; gave back the lease on %s", claim.key, claim.key)
            return attrs.evolve(claim, token=None, docs=[])
        shorter = self.archive.leases.split(claim, opened[done - 1][1]._id, done)
        log.info("%s: stopping; gave back %d documents", claim.key, len(opened) - done)
        return shorter

    def give_back_held(self) -> None:
        """Expire every lease this runner holds, for a process that exits with work in hand
        (the stop timeout passed): the next claim of any worker takes those ranges over."""
        for token, claim in list(self.held.items()):
            self.archive.leases.expire(claim.key, token)
            log.warning("gave back the lease on %s (unfinished)", claim.key)

    def _claim(self, flt: LoadedFilter, consumes: Consumes) -> Claim | None:
        if consumes not in self._indexed:
            self.archive.ensure_queue_index(consumes)
            self._indexed.add(consumes)
        return self.archive.leases.claim(
            Leases.key(flt.info.id, consumes),
            selector(consumes),
            token=self._token(),
            owner=self.owner,
            limit=self.settings.batch_size,
            lease_seconds=self.settings.lease_seconds,
            held=set(self.held),
        )

    def run_batch(self, flt: LoadedFilter, consumes: Consumes) -> FilterStats:
        """Claim, process, write and record one batch; ``stats.batches`` is 0 when nothing
        after the checkpoint was pending."""
        stats = self._claim_and_run(flt, consumes)
        return FilterStats() if stats is None else stats

    def _claim_and_run(self, flt: LoadedFilter, consumes: Consumes) -> FilterStats | None:
        """One claim and its work; ``None`` when nothing after the checkpoint is pending.
        The claim's documents are freed on return, before a paused collector runs."""
        claim = self._claim(flt, consumes)
        return None if claim is None else self._run_claim(flt, claim)

    # ------------------------------------------------------------------ late documents

    def verify(self, flt: LoadedFilter, *, recent_only: bool = False) -> FilterStats:
        """Find documents that appeared behind ``flt``'s checkpoints and process them.

        Recounts committed windows (``windows.py``): those of the last
        ``settings.lookback_seconds`` of ``_id`` time and the invalidated ones with
        ``recent_only``, all of them otherwise. With :attr:`arrivals` known (a change
        stream without a break), a recent one starts at the window of the oldest
        arrival instead (``arrivals.py``). A full one, and this runner's first,
        also offers again what another version of the filter gave up on. Reads no
        document when nothing changed.
        """
        info = flt.info
        total = FilterStats()
        started = time.time()
        if not recent_only or info.id not in self._retried:  # each full one, and the first
            self._retried.add(info.id)
            self.archive.retry_other_versions(info.id, info.version, info.consumes)
        floor = oids.upper_at(started - self.settings.lookback_seconds) if recent_only else None
        for consumes in info.consumes:
            key = Leases.key(info.id, consumes)
            since = self._recount_from(key, floor) if floor is not None else None
            state = self.archive.leases.read(key)
            busy = [(x["lo"], x["hi"]) for x in state.get("leases", [])]
            self._left_busy(key, since, state.get("cursor"), busy)
            stale = self.archive.windows.stale(
                key,
                selector(consumes),
                state.get("cursor"),
                busy,
                since=since,
                merge_below=self.settings.batch_size,
            )
            for window in list(stale):
                if self.stop_event.is_set():
                    break
                claim = self.archive.leases.claim_range(
                    key,
                    selector(consumes),
                    window.lo,
                    window.hi,
                    window.counts,
                    token=self._token(),
                    owner=self.owner,
                    lease_seconds=self.settings.lease_seconds,
                )
                if claim is None:  # taken by another worker meanwhile
                    self._left_busy(key, since, window.hi, [(window.lo, window.hi)])
                    continue
                log.info(
                    "%s: %s changed behind the checkpoint; processing it again", info.name, key
                )
                total.add(self._run_claim(flt, claim))
            if not recent_only and not self.stop_event.is_set():
                self.archive.leases.verified(key, started)
        return total

    def _recount_from(self, key: str, floor: ObjectId) -> ObjectId:
        """Where a recent verification of ``key`` starts: ``floor`` (the lookback), or the
        window of the oldest arrival after it, or past everything when nothing arrived."""
        if self.arrivals is None:
            return floor
        known, oldest = self.arrivals.take(key)
        if not known:
            return floor
        if oldest is None:
            return oids.OID_MAX  # nothing arrived: only the invalidated windows
        return self.archive.windows.start(key, oldest, floor)

    def _left_busy(
        self,
        key: str,
        since: ObjectId | None,
        upto: ObjectId | None,
        busy: list[tuple[ObjectId, ObjectId]],
    ) -> None:
        """Ranges a verification from ``since`` cannot check now (leased): the next recent
        one starts no later than the first of them."""
        if self.arrivals is None or since is None or upto is None:
            return
        left = [lo for lo, hi in busy if hi > since and lo < upto]
        if left:
            self.arrivals.put_back(key, max(min(left), since))

    def verify_due(self, flt: LoadedFilter) -> FilterStats:
        """:meth:`verify` of every window when the last one of some queue of ``flt`` began
        ``settings.rescan_seconds`` ago or more (or never ran), of the recent ones otherwise.

        The time is kept with each queue's checkpoint, so ``run --once`` and the daemon,
        in any process, share one schedule: a full recount reads every window, which is
        the archive on a server whose counts read the documents (SecantusDB).
        """
        due = time.time() - self.settings.rescan_seconds
        for consumes in flt.info.consumes:
            last = self.archive.leases.read(Leases.key(flt.info.id, consumes)).get("verified")
            if not isinstance(last, (int, float)) or last <= due:
                return self.verify(flt)
        return self.verify(flt, recent_only=True)

    def process_ids(
        self, flt: LoadedFilter, consumes: Consumes, ids: Iterable[ObjectId]
    ) -> FilterStats:
        """Process documents known to be new (a change stream saw them inserted): those
        behind the checkpoint get their windows processed again; the others are left to
        the next claim."""
        key = Leases.key(flt.info.id, consumes)
        cursor = self.archive.leases.read(key).get("cursor")
        windows = {}
        for oid in ids:
            if cursor is None or oid > cursor:
                continue
            window = self.archive.windows.containing(key, oid)
            if window is None:  # in no window yet: a full verification finds the gap
                return self.verify(flt)
            windows[window["lo"]] = window
        total = FilterStats()
        for window in windows.values():
            claim = self.archive.leases.claim_range(
                key,
                selector(consumes),
                window["lo"],
                window["hi"],
                window.get("counts") or {},
                token=self._token(),
                owner=self.owner,
                lease_seconds=self.settings.lease_seconds,
            )
            if claim is not None:
                total.add(self._run_claim(flt, claim))
        return total

    # ------------------------------------------------------------------ loops

    def drain(self, flt: LoadedFilter) -> FilterStats:
        """Process everything pending for ``flt`` now: claims after each checkpoint until
        none is left (the daemon takes :meth:`turn` instead)."""
        total, _ = self._claims(flt, None)
        return total

    def turn(self, flt: LoadedFilter, seconds: float) -> tuple[FilterStats, bool]:
        """One turn of the daemon's round-robin on ``flt``: claims until none is left or
        ``seconds`` have passed (at least one claim), then the recent verification when it
        is due. Returns the counts and whether nothing after the checkpoints is pending."""
        total, done = self._claims(flt, time.monotonic() + seconds)
        total.add(self._verify_when_due(flt))
        return total, done

    def _claims(self, flt: LoadedFilter, deadline: float | None) -> tuple[FilterStats, bool]:
        """Claims of each input in turn (starting, turn after turn, with the next input),
        until none is left (``True``), or ``deadline`` or a stop (``False``)."""
        total = FilterStats()
        inputs = list(flt.info.consumes)
        first = self._next_input.get(flt.info.id, 0) % len(inputs)
        claimed = False
        for index in range(first, first + len(inputs)):
            while True:
                late = claimed and deadline is not None and time.monotonic() >= deadline
                if late or self.stop_event.is_set():
                    self._next_input[flt.info.id] = index
                    return total, False
                with collection_paused():  # the batch the claim reads, then its work
                    stats = self._claim_and_run(flt, inputs[index % len(inputs)])
                if stats is None:
                    break
                claimed = True
                total.add(stats)
        return total, True

    def _verify_when_due(self, flt: LoadedFilter) -> FilterStats:
        now = time.monotonic()
        if now - self._verified.get(flt.info.id, float("-inf")) < VERIFY_RECENT_SECONDS:
            return FilterStats()
        self._verified[flt.info.id] = now
        return self.verify_due(flt)

    def run_once(self, max_passes: int = 50) -> RunSummary:
        """Drain all pending work, chained filters included, then verify; return the counts.

        Passes repeat while any filter handled a document, so a filter that
        consumes another's output sees it in the same run. A later pass drains
        only the filters that can have new input: not those that read raw
        documents alone (filters never write raw documents), and not those
        since whose last drain no other filter wrote anything. When no work is
        left, a verification of every filter (:meth:`verify_due`: all windows
        once per ``settings.rescan_seconds``, the recent ones otherwise) looks for
        late documents; what it finds starts the passes again.
        """
        started = time.monotonic()
        summary = RunSummary({flt.info.name: FilterStats() for flt in self.filters})
        written = 0  # instances written so far in this run
        seen: dict[str, int] = {}  # ``written`` when each filter's last drain ended
        verified = False
        for number in range(max_passes):
            handled = 0
            for flt in self.filters:
                if self.stop_event.is_set():
                    break
                fid = flt.info.id
                if verified:
                    stats = self.verify_due(flt)
                elif number and (_reads_only_raw(flt) or seen.get(fid) == written):
                    continue
                else:
                    stats = self.drain(flt)
                summary.filters[flt.info.name].add(stats)
                handled += stats.handled
                written += stats.instances
                # Its own outputs came after its checkpoint: this drain claimed them already.
                seen[fid] = written
            if self.stop_event.is_set() or (handled == 0 and verified):
                break
            verified = handled == 0
            if verified:
                seen.clear()
        else:
            log.warning("run --once stopped after %d passes with work still appearing", max_passes)
        summary.seconds = time.monotonic() - started
        return summary


def select_filters(filters: Iterable[LoadedFilter], selectors: Sequence[str]) -> list[LoadedFilter]:
    """The filters named by ``selectors`` (name, id or entry point); all when empty."""
    chosen = [flt for flt in filters if not selectors or flt.matches(selectors)]
    return chosen
