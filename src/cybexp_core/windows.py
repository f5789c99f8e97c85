"""Committed windows: how late documents behind a checkpoint are found without rescanning.

Every range a claim committed is recorded in ``cybexp_windows``::

    {"key": "<queue key>", "lo": ObjectId, "hi": ObjectId, "count": 1000,
     "counts": {"processed": 990, "failed": 10, ...}}

``count`` is how many documents of the queue's input ``(lo, hi]`` held when
they were processed, ``counts`` what the filter made of them. Windows tile the
``_id`` line below the checkpoint. A verification recounts each window with a
``count_documents`` of equality on the input plus both ``_id`` bounds (the
index answers it; no document is read) and hands back the windows whose count
changed, gaps included, to be processed again: writes are idempotent, and the
counters move by the difference with ``counts``. Contiguous neighbours whose
counts add up to at most a batch are recounted with one count and, when it holds,
merged, so their number (and a verification's cost) stays bounded by the batches,
however thin the claims of a trickle were.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from attrs import define
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection

from cybexp_core import oids

__all__ = ["WINDOWS_COLLECTION", "Stale", "Windows"]

WINDOWS_COLLECTION = "cybexp_windows"


def _total(run: list[dict[str, Any]]) -> int:
    return sum(window["count"] for window in run)


def _busy(lo: ObjectId, hi: ObjectId, busy: list[tuple[ObjectId, ObjectId]]) -> bool:
    """Whether ``(lo, hi]`` overlaps one of the ``busy`` ranges (open leases)."""
    return any(b_lo < hi and lo < b_hi for b_lo, b_hi in busy)


@define
class Stale:
    """A window to process again: ``(lo, hi]`` and what the counters hold for it."""

    lo: ObjectId
    hi: ObjectId
    counts: Mapping[str, int]


@define
class Windows:
    """The committed windows of every queue."""

    collection: Collection
    documents: Collection

    def ensure_indexes(self) -> None:
        self.collection.create_index([("key", ASCENDING), ("lo", ASCENDING)], unique=True)

    def record(
        self, key: str, lo: ObjectId, hi: ObjectId, count: int, counts: Mapping[str, int]
    ) -> None:
        """Remember that ``(lo, hi]`` of ``key`` held ``count`` documents, done as ``counts``."""
        self.collection.update_one(
            {"key": key, "lo": lo},
            {"$set": {"hi": hi, "count": count, "counts": dict(counts)}, "$unset": {"retry": ""}},
            upsert=True,
        )

    def _count(self, selector: Mapping[str, Any], lo: ObjectId, hi: ObjectId) -> int:
        return self.documents.count_documents({**selector, "_id": {"$gt": lo, "$lte": hi}})

    def stale(
        self,
        key: str,
        selector: Mapping[str, Any],
        checkpoint: ObjectId | None,
        busy: list[tuple[ObjectId, ObjectId]],
        *,
        since: ObjectId | None = None,
        merge_below: int = 0,
    ) -> Iterator[Stale]:
        """Windows of ``key`` whose documents changed (and uncovered gaps below
        ``checkpoint``), from ``since`` on (and invalidated ones before it); ranges in
        ``busy`` (open leases) are left alone."""
        if checkpoint is None:
            return
        if since is not None:
            yield from self._invalidated(key, since, busy)
        start = since or oids.OID_MIN
        query = {"key": key, "lo": {"$gte": start, "$lte": checkpoint}}
        expected = start if since is None else None
        run: list[dict[str, Any]] = []  # contiguous windows, at most a batch in all
        for window in self.collection.find(query).sort("lo", ASCENDING):
            lo, hi, count = window["lo"], window["hi"], window.get("count")
            if expected is not None and lo > expected:  # never recorded (a crash): check it
                yield from self._check_run(key, selector, run)
                run = []
                yield from self._gap(key, selector, expected, lo, busy)
            if expected is not None and hi <= expected:  # inside a merged neighbour
                self.collection.delete_one({"_id": window["_id"]})
                continue
            expected = hi if expected is None else max(expected, hi)
            if _busy(lo, hi, busy):
                yield from self._check_run(key, selector, run)
                run = []
                continue
            if not isinstance(count, int) or count < 0:  # invalidated
                yield from self._check_run(key, selector, run)
                run = []
                yield Stale(lo, hi, window.get("counts") or {})
                continue
            if run and (lo != run[-1]["hi"] or _total(run) + count > merge_below):
                yield from self._check_run(key, selector, run)
                run = []
            run.append(window)
        yield from self._check_run(key, selector, run)
        if expected is not None and expected < checkpoint:
            yield from self._gap(key, selector, expected, checkpoint, busy)

    def _check_run(
        self, key: str, selector: Mapping[str, Any], run: list[dict[str, Any]]
    ) -> Iterator[Stale]:
        """Recount contiguous windows with one count; when it holds, merge them into the
        first (one update, one ranged delete), else recount each and hand back the changed."""
        if not run:
            return
        if len(run) > 1 and self._count(selector, run[0]["lo"], run[-1]["hi"]) == _total(run):
            self._merge(key, run)
            return
        for window in run:
            if self._count(selector, window["lo"], window["hi"]) != window["count"]:
                yield Stale(window["lo"], window["hi"], window.get("counts") or {})

    def _invalidated(
        self, key: str, before: ObjectId, busy: list[tuple[ObjectId, ObjectId]]
    ) -> Iterator[Stale]:
        """Windows below ``before`` that :meth:`invalidate` marked (a failure forgotten, a
        new filter version): a recent verification processes them too."""
        query = {"key": key, "lo": {"$gte": oids.OID_MIN, "$lt": before}, "count": {"$lt": 0}}
        for window in self.collection.find(query).sort("lo", ASCENDING):
            lo, hi = window["lo"], window["hi"]
            if not _busy(lo, hi, busy):
                yield Stale(lo, hi, window.get("counts") or {})

    def _gap(
        self,
        key: str,
        selector: Mapping[str, Any],
        lo: ObjectId,
        hi: ObjectId,
        busy: list[tuple[ObjectId, ObjectId]],
    ) -> Iterator[Stale]:
        if _busy(lo, hi, busy):
            return
        if self._count(selector, lo, hi):
            yield Stale(lo, hi, {})
        else:
            self.record(key, lo, hi, 0, {})

    def _merge(self, key: str, run: list[dict[str, Any]]) -> None:
        """Extend the first window of ``run`` over the others (then drop those)."""
        counts: dict[str, int] = {}
        for window in run:
            for name, value in (window.get("counts") or {}).items():
                counts[name] = counts.get(name, 0) + value
        first, last = run[0], run[-1]
        self.collection.update_one(
            {"_id": first["_id"]},
            {"$set": {"hi": last["hi"], "count": _total(run), "counts": counts}},
        )
        # A crash here leaves the others inside the first: the next verification drops them.
        self.collection.delete_many({"key": key, "lo": {"$gt": first["lo"], "$lte": last["lo"]}})

    def _last_before(
        self, key: str, oid: ObjectId, floor: ObjectId = oids.OID_MIN
    ) -> Mapping[str, Any] | None:
        """The window of ``key`` with the greatest ``lo`` in ``[floor, oid)``."""
        found = (
            self.collection.find({"key": key, "lo": {"$gte": floor, "$lt": oid}})
            .sort("lo", -1)
            .limit(1)
        )
        return next(iter(found), None)

    def containing(self, key: str, oid: ObjectId) -> Mapping[str, Any] | None:
        """The window of ``key`` that holds ``oid``, if one was recorded."""
        window = self._last_before(key, oid)
        return window if window is not None and oid <= window["hi"] else None

    def start(self, key: str, oid: ObjectId, floor: ObjectId) -> ObjectId:
        """Where a recount from ``oid`` on starts: the ``lo`` of the last window of ``key``
        beginning before ``oid`` (the one holding it, if any), never before ``floor``."""
        if oid <= floor:
            return floor
        window = self._last_before(key, oid, floor)
        return window["lo"] if window is not None else floor

    def invalidate(self, key: str, oid: ObjectId, *, retry: bool = False) -> bool:
        """Make the next verification process the window holding ``oid`` again; ``retry``:
        because a failure of ``oid`` was forgotten (``status`` counts it pending)."""
        window = self.containing(key, oid)
        if window is None:
            return False
        update: dict[str, Any] = {"$set": {"count": -1}}
        if retry:
            update["$inc"] = {"retry": 1}
        self.collection.update_one({"_id": window["_id"]}, update)
        return True

    def retries(self, key: str) -> int:
        """Documents of ``key`` whose failure was forgotten and that wait for a verification."""
        everything = {"$gte": oids.OID_MIN, "$lte": oids.OID_MAX}
        rows = self.collection.find({"key": key, "lo": everything, "retry": {"$gt": 0}})
        return sum(row["retry"] for row in rows)

    def forget(self, key: str) -> None:
        self.collection.delete_many(
            {"key": key, "lo": {"$gte": oids.OID_MIN, "$lte": oids.OID_MAX}}
        )
