"""The runner's bookkeeping: outcomes, and the per-document records kept outside the documents.

The worker reports what a filter did with each claimed document as an
*outcome* (:class:`Processed`, :class:`NotForIt`, :class:`Failed`).
Progress itself is a checkpoint per (filter, input) with counters
(``leases.py``) and committed windows (``windows.py``): a processed raw
document is not written to. Only failures and problems are kept per document,
in collections of their own, so ``failed list`` costs the failures and a raw
document (up to 16 MB) can never be made too large by our bookkeeping:

``cybexp_failures``
    ``{filter, doc, _hash, itype, sub_type, orgid, record}``: why filter
    ``filter`` failed on document ``doc`` (``_id``); ``record.final_for`` is
    the filter version that gave up (a new version tries again).
``cybexp_problems``
    ``{filter, doc, _hash, count, first}``: parts of the input the filter
    skipped, with reasons.

Both have a unique ``(filter, doc)`` index: the records of a claimed range are
read with equality on ``filter`` and both bounds on ``doc``. The marks of the
original module are read (and optionally written) by ``legacy_marks.py``.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from attrs import define, field
from bson import ObjectId
from pymongo import ASCENDING, DeleteOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from cybexp_core import legacy_marks, oids
from cybexp_core.declaration import Consumes, FilterInfo, Problem
from cybexp_core.ingest import RECEIVED
from cybexp_core.models import Instance

__all__ = [
    "FAILURES_COLLECTION",
    "MAX_PROBLEMS",
    "MAX_TEXT",
    "PROBLEMS_COLLECTION",
    "Failed",
    "NotForIt",
    "Outcome",
    "Processed",
    "Records",
    "Ticket",
    "failure_record",
    "offered",
    "open_document",
    "selector",
    "tally",
]

FAILURES_COLLECTION = "cybexp_failures"
PROBLEMS_COLLECTION = "cybexp_problems"
#: Most problems stored per document (the count is always kept), and their longest text.
MAX_PROBLEMS = 100
MAX_TEXT = 500


@define
class Ticket:
    """What the bookkeeping remembers about one claimed document while its filter runs."""

    _id: ObjectId
    hash: Any
    itype: Any
    sub_type: Any
    orgid: Any
    #: Hashes already in a raw document's ``_ref`` (for ``runner.write_marks``).
    listed: Sequence[str] = ()
    #: This filter's last failure record on it (empty when none).
    previous: Mapping[str, Any] = field(factory=dict)
    #: ``"done"`` or ``"failed"`` when it must not be processed again (by this version).
    settled: str | None = None

    @property
    def raw(self) -> bool:
        return self.itype == "raw"

    def attempts_before(self, version: str) -> int:
        """Attempts already spent on this document by this filter version."""
        if self.previous.get("version") == version:
            attempts = self.previous.get("attempts", 0)
            return attempts if isinstance(attempts, int) else 0
        return 0


@define
class Processed:
    """The filter made ``instances`` from the document (and skipped ``problems``)."""

    ticket: Ticket
    instances: Sequence[Instance] = ()
    problems: Sequence[Problem] = ()


@define
class NotForIt:
    """The filter returned ``None``: the document is not one it handles."""

    ticket: Ticket


@define
class Failed:
    """The filter (or the write of its output) failed; ``record`` says why."""

    ticket: Ticket
    record: dict[str, Any]


Outcome = Processed | NotForIt | Failed


def open_document(
    doc: dict[str, Any], fid: str, version: str, recorded: Mapping[str, Any] | None = None
) -> Ticket:
    """Prepare a claimed ``doc`` (in place) for the filter and tell what is known of it:
    ``recorded`` is its record in ``cybexp_failures``, if any."""
    _id = doc.pop("_id")
    if isinstance(_id, ObjectId):  # when the document was stored: see hookspecs.filter
        doc[RECEIVED] = oids.epoch(_id)
    if not recorded and legacy_marks.unmarked(doc):  # nothing known: a fresh document
        get = doc.get
        return Ticket(_id, get("_hash"), get("itype"), get("sub_type"), get("orgid"))
    previous = dict(recorded or {}) or legacy_marks.legacy_failure(doc, fid)
    settled = legacy_marks.legacy_state(doc, fid, version)
    if previous.get("final_for") == version:
        settled = "failed"
    legacy_marks.strip(doc)
    return Ticket(
        _id,
        doc.get("_hash"),
        doc.get("itype"),
        doc.get("sub_type"),
        doc.get("orgid"),
        legacy_marks.listed_refs(doc) if doc.get("itype") == "raw" else (),
        previous,
        settled,
    )


def _fingerprint(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    shape = (
        type(exc).__name__
        + "|"
        + "|".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.name}" for f in frames)
    )
    return hashlib.sha1(shape.encode()).hexdigest()[:12]


def failure_record(
    info: FilterInfo,
    exc: BaseException,
    attempts: int,
    *,
    final: bool,
    error: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """What is kept about a document a filter failed on; ``error``/``message`` override
    the exception's type name and text."""
    return {
        "filter": info.name,
        "filter_id": info.id,
        "version": info.version,
        "error": error or type(exc).__name__,
        "message": (message if message is not None else str(exc))[:2000],
        "field": getattr(exc, "field", None),
        "fingerprint": _fingerprint(exc),
        "attempts": attempts,
        "time": datetime.now(timezone.utc),
        "final_for": info.version if final else None,
    }


def problems_record(problems: Sequence[Problem]) -> dict[str, Any]:
    """What is kept about the skipped parts of one document: the count and the first ones."""
    return {
        "count": len(problems),
        "first": [
            {"where": p.where[:MAX_TEXT], "reason": p.reason[:MAX_TEXT]}
            for p in problems[:MAX_PROBLEMS]
        ],
    }


def tally(outcomes: Iterable[Outcome], settled: Iterable[Ticket] = ()) -> dict[str, int]:
    """The counters of a range: its outcomes, and its documents already settled."""
    counts = dict.fromkeys(("processed", "failed", "skipped", "problems", "instances"), 0)
    for outcome in outcomes:
        if isinstance(outcome, Failed):
            counts["failed"] += 1
        elif isinstance(outcome, NotForIt):
            counts["skipped"] += 1
        else:
            counts["processed"] += 1
            counts["problems"] += len(outcome.problems)
            counts["instances"] += len(outcome.instances)
    for ticket in settled:
        counts["processed" if ticket.settled == "done" else "failed"] += 1
    return counts


def selector(consumes: Consumes) -> dict[str, Any]:
    """The documents of one declared input: equality on ``itype`` (and ``sub_type``)."""
    query: dict[str, Any] = {"itype": consumes.itype}
    if consumes.sub_type is not None:
        query["sub_type"] = consumes.sub_type
    return query


def offered(doc: Mapping[str, Any], consumes: Iterable[Consumes]) -> bool:
    """Whether the runner offers a new ``doc`` to a filter reading ``consumes``
    (the :func:`selector` of its claims, evaluated on ``doc``)."""
    return any(all(doc.get(k) == v for k, v in selector(c).items()) for c in consumes)


@define
class Failure:
    """A document a filter failed on, and the filter's failure record."""

    doc: ObjectId
    hash: str
    itype: str | None
    sub_type: str | None
    orgid: str | None
    record: dict[str, Any]


@define
class Records:
    """The per-document failure and problem records."""

    failures: Collection
    problems: Collection

    @classmethod
    def of(cls, database: Database) -> Records:
        return cls(database[FAILURES_COLLECTION], database[PROBLEMS_COLLECTION])

    def ensure_indexes(self) -> None:
        for coll in (self.failures, self.problems):
            coll.create_index([("filter", ASCENDING), ("doc", ASCENDING)], unique=True)
        self.failures.create_index([("_hash", ASCENDING)])  # failed show HASH

    def in_range(self, fid: str, lo: ObjectId, hi: ObjectId) -> dict[ObjectId, dict[str, Any]]:
        """Filter ``fid``'s failure records of the documents in ``(lo, hi]``, by ``_id``."""
        query = {"filter": fid, "doc": {"$gt": lo, "$lte": hi}}
        return {row["doc"]: row.get("record") or {} for row in self.failures.find(query)}

    def write(self, fid: str, outcomes: Sequence[Outcome]) -> None:
        """Record failures and problems of ``outcomes``; forget failures now overcome."""
        failures: list[Any] = []
        problems: list[Any] = []
        for outcome in outcomes:
            ticket = outcome.ticket
            where = {"filter": fid, "doc": ticket._id}
            if isinstance(outcome, Failed):
                about = {"_hash": ticket.hash, "itype": ticket.itype, "sub_type": ticket.sub_type}
                about.update(orgid=ticket.orgid, record=outcome.record)
                failures.append(UpdateOne(where, {"$set": about}, upsert=True))
                continue
            if ticket.previous:
                failures.append(DeleteOne(where))
            if isinstance(outcome, Processed) and outcome.problems:
                record = {"_hash": ticket.hash, **problems_record(outcome.problems)}
                problems.append(UpdateOne(where, {"$set": record}, upsert=True))
        if failures:
            self.failures.bulk_write(failures, ordered=False)
        if problems:
            self.problems.bulk_write(problems, ordered=False)

    def _query(self, fid: str, error: str | None, hashes: Iterable[str] | None) -> dict[str, Any]:
        query: dict[str, Any] = {"filter": fid}
        if error:
            query["record.error"] = error
        if hashes is not None:
            query["_hash"] = {"$in": list(hashes)}
        return query

    def listed(
        self, fid: str, error: str | None = None, hashes: Iterable[str] | None = None
    ) -> Iterator[Failure]:
        """Filter ``fid``'s failures, oldest document first."""
        with self.failures.find(self._query(fid, error, hashes)).sort("doc", ASCENDING) as rows:
            for row in rows:
                yield Failure(
                    row["doc"],
                    row.get("_hash"),
                    row.get("itype"),
                    row.get("sub_type"),
                    row.get("orgid"),
                    row.get("record") or {},
                )

    def clear(
        self, fid: str, error: str | None = None, hashes: Iterable[str] | None = None
    ) -> list[Failure]:
        """Forget filter ``fid``'s failures (of one ``error``, or of ``hashes``); returns them."""
        cleared = list(self.listed(fid, error, hashes))
        for chunk in range(0, len(cleared), 500):
            ids = [f.doc for f in cleared[chunk : chunk + 500]]
            self.failures.delete_many({"filter": fid, "doc": {"$in": ids}})
        return cleared

    def of_hash(self, hash_: str) -> dict[str, dict[str, Any]]:
        """Every filter's failure record on the document with ``_hash``, by filter id."""
        return {
            row["filter"]: row.get("record") or {} for row in self.failures.find({"_hash": hash_})
        }
