"""Session upserts: every version of a session seen in a batch merged into one write.

Sessions are the only instances that change after they are stored: their
``_ref`` grows (``$addToSet``) and their times widen (``$min``/``$max``), so
any arrival order converges. A capped session (``max_events``) stops at its
cap and is marked ``saturated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import define, field
from pymongo import UpdateOne

from cybexp_core.models import Session

__all__ = ["MAX_FROM", "PROVENANCE", "SessionWrite", "session_update"]

#: Field of events and sessions naming the raw documents (``_hash``) they came from.
PROVENANCE = "_from"
#: Most raw documents a session's ``_from`` lists.
MAX_FROM = 1000


def _merged_times(sessions: Sequence[Session]) -> dict[str, Any]:
    """``$min``/``$max`` of the versions' times (earliest start, latest end, longest duration)."""
    times: dict[str, Any] = {}
    starts = [s.start_time for s in sessions if s.start_time is not None]
    ends = [s.end_time for s in sessions if s.end_time is not None]
    durations = [s.duration for s in sessions if s.duration is not None]
    if starts:
        times["$min"] = {"start_time": min(starts)}
    maxima = {}
    if ends:
        maxima["end_time"] = max(ends)
    if durations:
        maxima["duration"] = max(durations)
    if maxima:
        times["$max"] = maxima
    return times


@define
class SessionWrite:
    """The upsert that merges every version of a session seen in a batch.

    A capped session (``max_events``) lists at most ``limit`` refs: its own
    (identity) refs and ``max_events`` events. Its upsert matches only while
    ``_ref`` is shorter than that, so on a full session it tries to insert and
    fails on the unique ``(_hash, itype)`` index; :meth:`retry` then only merges the
    times and marks it ``saturated``. :meth:`trim` cuts what several events
    added at once beyond the limit.
    """

    query: dict[str, Any]
    update: dict[str, Any]
    limit: int | None = None
    times: dict[str, Any] = field(factory=dict)
    #: Refs beyond the session's own that the update adds (at most).
    adds: int = 0

    def upsert(self) -> UpdateOne:
        return UpdateOne(self.query, self.update, upsert=True)

    def document(self) -> dict[str, Any]:
        """The document :meth:`upsert` creates when the session is not stored yet.

        Inserted with the batch's other instances, a new session costs an insert, not an
        update; only one already stored (a duplicate key) is merged by :meth:`upsert`.
        Its ``_ref`` and ``_from`` are within their limits, so it needs no :meth:`trim`.
        """
        doc = {**_identity(self.query), **self.update["$setOnInsert"]}
        for name, values in self.update["$addToSet"].items():
            doc[name] = list(values["$each"])
        for operator in ("$min", "$max", "$set"):
            doc.update(self.update.get(operator, {}))
        return doc

    def retry(self) -> list[UpdateOne]:
        """What to write after the upsert failed with a duplicate key."""
        if self.limit is None:
            # Two writers upserted the same new session: now it exists, retry as update.
            return [self.upsert()]
        full = {**_identity(self.query), f"_ref.{self.limit - 1}": {"$exists": True}}
        return [
            # Full: its new events stay out, their times go in. Listed first: servers run
            # an unordered batch in order (mongod and SecantusDB do), so the next op cannot
            # fill it before (at worst a session filled exactly would be marked saturated).
            UpdateOne(full, {**self.times, "$set": {"saturated": True}}),
            # Not full: another writer created it concurrently; add to it.
            UpdateOne(self.query, self.update),
        ]

    def trim(self) -> list[UpdateOne]:
        """Cut ``_ref`` back to the limit, if this write may have gone past it, and
        ``_from`` back to ``MAX_FROM``.

        Adding one event to a session that is not full cannot; several can (a
        batch on an almost full session, or concurrent writers).
        """
        ops = []
        if PROVENANCE in self.update["$addToSet"]:
            ops.append(
                UpdateOne(
                    {**_identity(self.query), f"{PROVENANCE}.{MAX_FROM}": {"$exists": True}},
                    {"$push": {PROVENANCE: {"$each": [], "$slice": MAX_FROM}}},
                )
            )
        if self.limit is None or self.adds < 2:
            return ops
        ops.append(
            UpdateOne(
                {**_identity(self.query), f"_ref.{self.limit}": {"$exists": True}},
                {
                    "$push": {"_ref": {"$each": [], "$slice": self.limit}},
                    "$set": {"saturated": True},
                },
            )
        )
        return ops


def _identity(query: Mapping[str, Any]) -> dict[str, Any]:
    """The ``_hash`` and ``itype`` of a session upsert's query."""
    return {"_hash": query["_hash"], "itype": query["itype"]}


def session_update(sessions: Sequence[Session], sources: Sequence[str] = ()) -> SessionWrite:
    """One upsert that merges every version of a session seen in a batch."""
    first = sessions[0]
    refs = list(dict.fromkeys(h for s in sessions for h in (*s._ref, *s.events)))
    update: dict[str, Any] = {
        "$setOnInsert": {
            "itype": "session",
            "data": first.data,
            "_cref": list(first._cref),
            "sub_type": first.sub_type,
        },
        "$addToSet": {"_ref": {"$each": refs}},
    }
    if sources:
        update["$addToSet"][PROVENANCE] = {"$each": list(dict.fromkeys(sources))[:MAX_FROM]}
    times = _merged_times(sessions)
    update.update(times)
    # The itype too: a raw document stored with this hash (forged) is not this session.
    query: dict[str, Any] = {"_hash": first._hash, "itype": "session"}
    caps = [s.max_events for s in sessions if s.max_events is not None]
    if not caps:
        return SessionWrite(query, update)
    limit = len(first._ref) + min(caps)
    if len(refs) > limit:
        refs = refs[:limit]
        update["$addToSet"]["_ref"] = {"$each": refs}
        update["$set"] = {"saturated": True}
    query[f"_ref.{limit - 1}"] = {"$exists": False}
    return SessionWrite(query, update, limit, times, adds=len(refs) - len(first._ref))
