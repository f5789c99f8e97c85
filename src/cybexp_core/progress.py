"""The bookkeeping half of :class:`~cybexp_core.backend.Archive`: claims, commits, status, failures.

Everything the runner, ``status``, ``failed`` and the test kit ask about
progress goes through these methods; how it is stored is the business of
``leases.py`` (checkpoint, leases, counters), ``windows.py`` (committed
windows), ``bookkeeping.py`` (failure and problem records) and
``legacy_marks.py`` (the original's marks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from attrs import define, field
from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from cybexp_core import bookkeeping, legacy_marks, oids
from cybexp_core.bookkeeping import Failed, Failure, Outcome, Processed, Records, Ticket
from cybexp_core.census import ITYPES
from cybexp_core.declaration import Consumes
from cybexp_core.leases import COUNTS, STATE_COLLECTION, Claim, Leases
from cybexp_core.owner import Owner
from cybexp_core.windows import WINDOWS_COLLECTION, Windows

__all__ = ["ArchiveBookkeeping", "Progress"]

log = logging.getLogger(__name__)

#: Seconds of ObjectId time past "now" that claims and ``status`` look at (client clocks).
CLOCK_SKEW = 5.0


@define
class Progress:
    """One filter's place in its inputs, for ``status``."""

    pending: int = 0
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    problems: int = 0
    instances: int = 0
    #: Age of the oldest pending document (seconds); 0 when nothing is pending.
    lag_seconds: float = 0.0
    leases: list[dict[str, Any]] = field(factory=list)


class ArchiveBookkeeping:
    """Mixed into ``Archive``; needs its ``collection``."""

    collection: Collection

    @property
    def leases(self) -> Leases:
        """Work claims, coordinated in the ``cybexp_state`` collection of the same database."""
        return Leases(self.collection.database[STATE_COLLECTION], self.collection)

    @property
    def windows(self) -> Windows:
        return Windows(self.collection.database[WINDOWS_COLLECTION], self.collection)

    @property
    def records(self) -> Records:
        return Records.of(self.collection.database)

    def ensure_bookkeeping_indexes(self) -> None:
        self.windows.ensure_indexes()
        self.records.ensure_indexes()

    # ------------------------------------------------------------------ one claim

    def open_claim(self, fid: str, version: str, claim: Claim) -> list[tuple[dict, Ticket]]:
        """The claimed documents, ready for the filter, each with its :class:`Ticket`."""
        if not claim.docs:
            return []
        recorded = self.records.in_range(fid, claim.lo, claim.hi)
        opened = []
        for doc in claim.docs:
            ticket = bookkeeping.open_document(doc, fid, version, recorded.get(doc["_id"]))
            opened.append((doc, ticket))
        return opened

    def commit(
        self,
        fid: str,
        claim: Claim,
        outcomes: Sequence[Outcome],
        settled: Sequence[Ticket] = (),
        *,
        write_marks: bool = False,
    ) -> dict[str, int]:
        """Record a claim once its outputs are stored: failure and problem records (and the
        original's marks with ``write_marks``), its window, then the lease's release with
        the counters. Returns what the counters gained (nothing when the lease had been
        taken over meanwhile: its taker counts it)."""
        self.records.write(fid, outcomes)
        if write_marks:
            self._write_marks(fid, outcomes)
        counts = bookkeeping.tally(outcomes, settled)
        if claim.docs or claim.token is not None:
            self.windows.record(claim.key, claim.lo, claim.hi, len(claim.docs), counts)
        if not self.leases.release(claim, counts):
            return {}
        return {name: counts[name] - claim.base.get(name, 0) for name in counts}

    def _write_marks(self, fid: str, outcomes: Sequence[Outcome]) -> None:
        ops = []
        for outcome in outcomes:
            ticket = outcome.ticket
            update = legacy_marks.mark_update(
                fid,
                raw=ticket.raw,
                listed=ticket.listed,
                failure=outcome.record if isinstance(outcome, Failed) else None,
                instances=outcome.instances if isinstance(outcome, Processed) else (),
                problems=bookkeeping.problems_record(outcome.problems)
                if isinstance(outcome, Processed) and outcome.problems
                else None,
                had_failed=bool(ticket.previous),
            )
            ops.append(UpdateOne({"_id": ticket._id}, update))
        if not ops:
            return
        try:
            self.collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:  # a compatibility extra: never what blocks progress
            errors = exc.details.get("writeErrors", [])
            log.warning(
                "%d marks not written (%s)", len(errors), str(errors[0].get("errmsg"))[:200]
            )

    # ------------------------------------------------------------------ status

    def _keys(self, fid: str, consumes: Iterable[Consumes]) -> list[tuple[str, Consumes]]:
        return [(Leases.key(fid, c), c) for c in consumes]

    def progress(self, fid: str, consumes: Iterable[Consumes]) -> Progress:
        """Counters, pending documents and lag of filter ``fid``; reads the state documents
        and counts only ranges the index answers (after the checkpoint, open leases)."""
        result = Progress()
        cap = oids.upper_at(time.time() + CLOCK_SKEW)
        for key, item in self._keys(fid, consumes):
            state = self.leases.read(key)
            for name in COUNTS:
                setattr(result, name, getattr(result, name) + state.get("counts", {}).get(name, 0))
            selector = bookkeeping.selector(item)
            cursor = state.get("cursor") or oids.OID_MIN
            ranges = [(cursor, cap)] + [(x["lo"], x["hi"]) for x in state.get("leases", [])]
            for lo, hi in ranges:
                if lo >= hi:
                    continue
                query = {**selector, "_id": {"$gt": lo, "$lte": hi}}
                count = self.collection.count_documents(query)
                if count:
                    result.pending += count
                    oldest = self._oldest(selector, lo, hi)
                    if oldest is not None:
                        result.lag_seconds = max(result.lag_seconds, oids.seconds(oldest))
            result.leases.extend(state.get("leases", []))
            retries = self.windows.retries(key)  # failures forgotten: pending again
            result.pending += retries
            result.failed -= retries
        return result

    def _oldest(self, selector: Mapping[str, Any], lo: Any, hi: Any) -> Any:
        """The oldest ``_id`` in ``(lo, hi]``: probed in widening windows, so the server
        never sorts a long range."""
        start, end = oids.to_int(lo), oids.to_int(hi)
        width = oids.TICK
        while True:
            upper = min(start + width, end)
            query = {**selector, "_id": {"$gt": lo, "$lte": oids.from_int(upper)}}
            found = list(self.collection.find(query, {"_id": 1}).sort("_id", 1).limit(1))
            if found:
                return found[0]["_id"]
            if upper >= end:
                return None
            width *= 4

    def held_leases(self, fid: str, consumes: Iterable[Consumes]) -> list[str]:
        """One line per open lease of filter ``fid``: ``N documents leased by host/pid until T``
        (after ``run --once``, work another live worker still holds)."""
        lines = []
        for key, item in self._keys(fid, consumes):
            for lease in self.leases.read(key).get("leases", []):
                query = {
                    **bookkeeping.selector(item),
                    "_id": {"$gt": lease["lo"], "$lte": lease["hi"]},
                }
                until = datetime.fromtimestamp(lease.get("until", 0), timezone.utc)
                lines.append(
                    f"{key}: {self.collection.count_documents(query)} documents leased by "
                    f"{Owner.describe(lease)} until {until.isoformat(timespec='seconds')}"
                )
        return lines

    def count_pending(self, fid: str, version: str, consumes: Iterable[Consumes]) -> int:
        """Documents of ``consumes`` after filter ``fid``'s checkpoint or in its open leases."""
        return self.progress(fid, consumes).pending

    def instance_counts(self) -> dict[str, int]:
        """Documents per itype, each counted in full now (``status --count-all``; ``status``
        itself reads the census, see ``census.py``)."""
        return {itype: self.collection.count_documents({"itype": itype}) for itype in ITYPES}

    # ------------------------------------------------------------------ failures

    def failures(
        self, fid: str, *, error: str | None = None, hashes: Iterable[str] | None = None
    ) -> Iterator[Failure]:
        """Documents filter ``fid`` failed on, oldest first; only those of one ``error``
        type or with one of ``hashes`` when given."""
        return self.records.listed(fid, error, hashes)

    def clear_failures(
        self,
        fid: str,
        consumes: Iterable[Consumes],
        *,
        error: str | None = None,
        hashes: Iterable[str] | None = None,
    ) -> int:
        """Forget failures; the next verification offers the documents to the filter again."""
        cleared = self.records.clear(fid, error, hashes)
        keys = self._keys(fid, consumes)
        for failure in cleared:
            for key, item in keys:
                if bookkeeping.offered(
                    {"itype": failure.itype, "sub_type": failure.sub_type}, [item]
                ):
                    self.windows.invalidate(key, failure.doc, retry=True)
        return len(cleared)

    def retry_other_versions(self, fid: str, version: str, consumes: Iterable[Consumes]) -> int:
        """Have the next verification offer again what another version of ``fid`` gave up on."""
        query = {"filter": fid, "record.final_for": {"$nin": [version, None]}}
        rows = list(self.records.failures.find(query, {"doc": 1, "itype": 1, "sub_type": 1}))
        keys = self._keys(fid, consumes)
        for row in rows:
            for key, item in keys:
                if bookkeeping.offered(row, [item]):
                    self.windows.invalidate(key, row["doc"])
        return len(rows)

    def problems(self, fid: str) -> Iterator[dict[str, Any]]:
        """Filter ``fid``'s problem records: ``{doc, _hash, count, first}`` per document."""
        with self.records.problems.find({"filter": fid}, {"_id": 0, "filter": 0}) as rows:
            yield from rows

    def find_document(self, hash_: str) -> dict[str, Any] | None:
        """The document with ``_hash``, with every filter's failure record as ``_failed``."""
        doc = self.collection.find_one({"_hash": hash_}, {"_id": 0})
        if doc is not None:
            failed = self.records.of_hash(hash_)
            if failed:
                doc["_failed"] = {**legacy_marks.legacy_failures(doc), **failed}
        return doc

    def forget_done(self, fid: str, consumes: Iterable[Consumes]) -> int:
        """Forget filter ``fid``'s progress (checkpoint, counters, windows), as if it never
        ran; its outputs stay. Returns how many documents it had processed or skipped."""
        done = 0
        for key, _ in self._keys(fid, consumes):
            counts = self.leases.read(key).get("counts", {})
            done += counts.get("processed", 0) + counts.get("skipped", 0)
            self.leases.reset(key)
            self.windows.forget(key)
        return done
