"""The runner's bookkeeping: the only module that knows how progress and failures are stored.

The worker reports what a filter did with each claimed document as an
*outcome* (:class:`Processed`, :class:`NotForIt`, :class:`Failed`); this
module turns outcomes into stored fields and builds every query over them
(pending, failed, done). :class:`~cybexp_core.backend.Archive` exposes it as
methods; the worker, the CLI and the test kit call those, so a change of a
stored field touches this file alone.

Fields kept on the documents a filter reads (TAHOE does not use them):

``filters``
    ids of the filters that processed the document (the original's field).
``_ref`` (raw documents only)
    hashes of the instances made from it (the original's field), at most
    :data:`MAX_RAW_REFS`; beyond that ``_ref_truncated`` holds the full count.
``_failed.<filter id>``
    why the filter failed on it (:func:`failure_record`); ``final_for`` is the
    filter version that gave up.
``_problems.<filter id>``
    parts of the input a filter skipped, with reasons.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from attrs import define, field
from bson import ObjectId

from cybexp_core.declaration import Consumes, FilterInfo, Problem
from cybexp_core.ingest import RECEIVED
from cybexp_core.models import Instance, flatten

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PROBLEMS",
    "MAX_RAW_REFS",
    "MAX_TEXT",
    "Failed",
    "NotForIt",
    "Outcome",
    "Processed",
    "Ticket",
    "as_marked",
    "clear_failure_update",
    "done_query",
    "failed_query",
    "failure_of",
    "failure_projection",
    "failure_record",
    "forget_done_update",
    "mark_update",
    "offered",
    "open_document",
    "pending_query",
    "selector",
    "small_mark_update",
    "without_bookkeeping",
]

#: Most hashes kept in a raw document's ``_ref`` (about 4.5 MB of BSON).
MAX_RAW_REFS = 60_000
#: Most problems stored per document (the count is always kept), and their longest text.
MAX_PROBLEMS = 100
MAX_TEXT = 500

FILTERS = "filters"
REF = "_ref"
REF_TRUNCATED = "_ref_truncated"
FAILED = "_failed"
PROBLEMS = "_problems"


@define
class Ticket:
    """What the bookkeeping remembers about one claimed document while its filter runs."""

    _id: ObjectId
    raw: bool
    #: Hashes already in the document's ``_ref``.
    listed: Sequence[str] = ()
    #: This filter's last failure record on it (empty when none).
    previous: Mapping[str, Any] = field(factory=dict)
    #: Bookkeeping fields another writer stored with the wrong type: replaced when marked.
    bad: frozenset[str] = frozenset()

    def attempts_before(self, version: str) -> int:
        """Attempts already spent on this document by this filter version."""
        attempts = self.previous.get("attempts")
        if self.previous.get("version") == version and type(attempts) is int:
            return attempts
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


def open_document(doc: dict[str, Any], fid: str) -> Ticket:
    """Take the bookkeeping fields out of a claimed ``doc`` (in place) before a filter sees it.

    ``filters`` and ``_ref`` stay: filters must give the same output with them.
    """
    _id = doc.pop("_id")
    if isinstance(_id, ObjectId):  # when the document was stored: see hookspecs.filter
        doc[RECEIVED] = _id.generation_time.timestamp()
    bad = _wrong_types(doc)
    failed = doc.pop(FAILED, None)
    doc.pop(PROBLEMS, None)
    previous = failed.get(fid) if isinstance(failed, dict) else None
    if previous is not None and not isinstance(previous, dict):
        previous = {"unreadable": previous}  # not ours to read, but removed once processed
    listed = doc.get(REF) if REF not in bad else None
    return Ticket(_id, doc.get("itype") == "raw", listed or [], previous or {}, frozenset(bad))


#: The type of each bookkeeping field; other writers own the documents and may store anything.
_TYPES: dict[str, type] = {FILTERS: list, REF: list, FAILED: dict, PROBLEMS: dict}


def _wrong_types(doc: Mapping[str, Any]) -> set[str]:
    """The bookkeeping fields of ``doc`` that hold a value of the wrong type (logged)."""
    bad = set()
    for name, kind in _TYPES.items():
        value = doc.get(name)
        if name in doc and not isinstance(value, kind):
            bad.add(name)
            log.warning(
                "document %s: %s is a %s, not a %s; it is replaced when the document is marked",
                doc.get("_hash"),
                name,
                type(value).__name__,
                kind.__name__,
            )
    return bad


def _repaired(update: dict[str, Any], bad: frozenset[str]) -> dict[str, Any]:
    """``update`` with each operation on a wrong-typed field turned into a ``$set`` of the
    whole field (an ``$addToSet``/``$push``/path ``$set`` into a string would fail)."""
    if not bad:
        return update
    sets = update.setdefault("$set", {})
    for operator in ("$addToSet", "$push", "$set", "$unset"):
        for path in [p for p in update.get(operator, {}) if p.partition(".")[0] in bad]:
            if operator == "$set" and "." not in path:
                continue  # already a whole-field $set
            value = update[operator].pop(path)
            name, _, key = path.partition(".")
            if operator == "$unset":
                sets[name] = {}
            elif key:
                sets[name] = {key: value}
            else:
                sets[name] = list(value["$each"]) if isinstance(value, dict) else [value]
    return {operator: fields for operator, fields in update.items() if fields}


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


def _raw_refs(instances: Sequence[Instance], listed: set[str], room: int) -> tuple[list[str], int]:
    """New hashes for a raw document's ``_ref`` (outputs first, then descendants), at most
    ``room`` of them, and how many there were."""
    refs = dict.fromkeys(inst._hash for inst in instances)
    for inst in flatten(instances):
        refs[inst._hash] = None
    values = [value for value in refs if value not in listed]
    return values[: max(room, 0)], len(values)


def mark_update(fid: str, outcome: Outcome) -> dict[str, Any]:
    """The update of the input document that records ``outcome`` of filter ``fid``."""
    return _repaired(_plain_mark(fid, outcome), outcome.ticket.bad)


def _plain_mark(fid: str, outcome: Outcome) -> dict[str, Any]:
    ticket = outcome.ticket
    if isinstance(outcome, Failed):
        return {"$set": {f"{FAILED}.{fid}": outcome.record}}
    update: dict[str, Any] = {"$addToSet": {FILTERS: fid}}
    if ticket.previous:
        update["$unset"] = {f"{FAILED}.{fid}": ""}
    if isinstance(outcome, NotForIt):
        return update
    if ticket.raw and outcome.instances:
        # $push of the hashes not listed yet: $addToSet with a long $each is
        # quadratic on some servers. Each mark is one atomic update.
        listed = ticket.listed
        refs, total = _raw_refs(outcome.instances, set(listed), MAX_RAW_REFS - len(listed))
        if refs:
            update["$push"] = {REF: {"$each": refs}}
        if total > len(refs):
            update["$set"] = {REF_TRUNCATED: total}
    if outcome.problems:
        update.setdefault("$set", {})[f"{PROBLEMS}.{fid}"] = {
            "count": len(outcome.problems),
            "first": [
                {"where": p.where[:MAX_TEXT], "reason": p.reason[:MAX_TEXT]}
                for p in outcome.problems[:MAX_PROBLEMS]
            ],
        }
    return update


def small_mark_update(fid: str, outcome: Outcome) -> dict[str, Any]:
    """The least that records ``outcome``, for a document the full mark of which did not
    fit (one near MongoDB's 16 MB limit): no ``_ref`` (its count goes in ``_ref_truncated``),
    no problems, a failure message of 200 characters."""
    if isinstance(outcome, Failed):
        record = {**outcome.record, "message": outcome.record["message"][:200]}
        return _repaired({"$set": {f"{FAILED}.{fid}": record}}, outcome.ticket.bad)
    update: dict[str, Any] = {"$addToSet": {FILTERS: fid}}
    if isinstance(outcome, Processed) and outcome.ticket.raw and outcome.instances:
        refs = {inst._hash for inst in (*outcome.instances, *flatten(outcome.instances))}
        update["$set"] = {REF_TRUNCATED: len(refs)}
    return _repaired(update, outcome.ticket.bad)


def as_marked(doc: Mapping[str, Any], fid: str, instances: Sequence[Instance]) -> dict[str, Any]:
    """A copy of ``doc`` as stored once filter ``fid`` processed it into ``instances``
    (filters must give the same output when offered it again, as after a crash)."""
    stored = {**doc, FILTERS: [fid]}
    if doc.get("itype") == "raw":
        outputs = [*instances, *flatten(instances)]
        stored[REF] = list(dict.fromkeys(i._hash for i in outputs))
    return stored


# ---------------------------------------------------------------------------- queries


def selector(consumes: Consumes) -> dict[str, Any]:
    """The documents of one declared input, whatever their bookkeeping."""
    query: dict[str, Any] = {"itype": consumes.itype}
    if consumes.sub_type is not None:
        query["sub_type"] = consumes.sub_type
    return query


def offered(doc: Mapping[str, Any], consumes: Iterable[Consumes]) -> bool:
    """Whether the runner offers a document it never saw to a filter reading ``consumes``
    (the :func:`selector` of :func:`pending_query`, evaluated on ``doc``)."""
    return any(all(doc.get(k) == v for k, v in selector(c).items()) for c in consumes)


def pending_query(fid: str, version: str, consumes: Consumes) -> dict[str, Any]:
    """Documents of ``consumes`` this filter version has neither processed nor given up on."""
    return {
        **selector(consumes),
        FILTERS: {"$ne": fid},
        f"{FAILED}.{fid}.final_for": {"$ne": version},
    }


def done_query(fid: str) -> dict[str, Any]:
    """Documents filter ``fid`` processed (or found not for it)."""
    return {FILTERS: fid}


def failed_query(
    fid: str,
    *,
    error: str | None = None,
    hashes: Iterable[str] | None = None,
    final: bool = False,
) -> dict[str, Any]:
    """Documents filter ``fid`` failed on: of one ``error`` type, with one of ``hashes``,
    only those it gave up on (``final``)."""
    query: dict[str, Any] = {f"{FAILED}.{fid}": {"$exists": True}}
    if final:
        query[f"{FAILED}.{fid}.final_for"] = {"$exists": True, "$ne": None}
    if error:
        query[f"{FAILED}.{fid}.error"] = error
    if hashes is not None:
        query["_hash"] = {"$in": list(hashes)}
    return query


def failure_of(doc: Mapping[str, Any], fid: str) -> dict[str, Any]:
    """Filter ``fid``'s failure record in a document :func:`failed_query` found."""
    record = doc[FAILED][fid]
    if isinstance(record, dict):
        return dict(record)
    return {"error": "unreadable", "message": f"not a failure record: {record!r}"[:MAX_TEXT]}


def failure_projection(fid: str) -> dict[str, Any]:
    """The fields :func:`failure_of` and a failure listing read."""
    return {"_id": 0, "_hash": 1, "itype": 1, "sub_type": 1, "orgid": 1, f"{FAILED}.{fid}": 1}


def clear_failure_update(fid: str) -> dict[str, Any]:
    """Forget filter ``fid``'s failure, so the document is offered to it again."""
    return {"$unset": {f"{FAILED}.{fid}": ""}}


def forget_done_update(fid: str) -> dict[str, Any]:
    """Forget that filter ``fid`` processed a document (its outputs stay)."""
    return {"$pull": {FILTERS: fid}}


def without_bookkeeping(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` comparable across runs: failure times dropped, unordered arrays sorted."""
    failed = doc.get(FAILED)
    if isinstance(failed, dict):
        for record in failed.values():
            if isinstance(record, dict):
                record.pop("time", None)
    if isinstance(doc.get(FILTERS), list):
        doc[FILTERS] = sorted(doc[FILTERS])
    return doc
