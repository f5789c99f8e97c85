"""MongoDB backend: the raw-document queue, batched instance writes and marks.

All TAHOE documents share one collection (as in TAHOE), told apart by
``itype``. Runner bookkeeping lives in fields TAHOE does not use:

``filters``
    ids of the filters that processed the document (the original's field).
``_ref`` (raw documents only)
    hashes of the instances made from it (the original's field).
``_failed.<filter id>``
    why the filter failed on it; ``final_for`` is the filter version that gave up.
``_problems.<filter id>``
    parts of the input a filter skipped, with reasons.

Only the wire protocol is assumed: the same code runs on mongod, a replica
set or SecantusDB. ``find_one_and_update`` is not used (it is slow on some
servers); claims write nothing to the documents (see ``leases.py``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import define, field
from bson import ObjectId
from pymongo import ASCENDING, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from cybexp_core.config import Settings
from cybexp_core.declaration import Consumes
from cybexp_core.leases import STATE_COLLECTION, Leases
from cybexp_core.models import Instance, Raw, Session, _Composite

__all__ = ["Archive", "WriteStats", "flatten"]

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
#: Most hashes kept in a raw document's ``_ref`` (about 4.5 MB of BSON).
MAX_RAW_REFS = 60_000
#: Hashes remembered as already stored, to skip re-inserting them.
KNOWN_CACHE_SIZE = 200_000
_P = {"_id": 0}


def flatten(instances: Iterable[Instance]) -> Iterator[Instance]:
    """Yield each instance and all its descendants (children first, then the parent)."""
    for instance in instances:
        if isinstance(instance, _Composite):
            yield from flatten(instance.children)
        yield instance


@define
class WriteStats:
    """What one batched write did."""

    inserted: int = 0
    existing: int = 0
    sessions: int = 0


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
class _SessionWrite:
    """The upsert that merges every version of a session seen in a batch.

    A capped session (``max_events``) lists at most ``limit`` refs: its own
    (identity) refs and ``max_events`` events. Its upsert matches only while
    ``_ref`` is shorter than that, so on a full session it tries to insert and
    fails on the unique ``_hash`` index; :meth:`retry` then only merges the
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

    def trim(self) -> UpdateOne | None:
        """Cut ``_ref`` back to the limit, if this write may have gone past it.

        Adding one event to a session that is not full cannot; several can (a
        batch on an almost full session, or concurrent writers).
        """
        if self.limit is None or self.adds < 2:
            return None
        return UpdateOne(
            {**_identity(self.query), f"_ref.{self.limit}": {"$exists": True}},
            {"$push": {"_ref": {"$each": [], "$slice": self.limit}}, "$set": {"saturated": True}},
        )


def _identity(query: Mapping[str, Any]) -> dict[str, Any]:
    """The ``_hash`` and ``itype`` of a session upsert's query."""
    return {"_hash": query["_hash"], "itype": query["itype"]}


def _session_update(sessions: Sequence[Session]) -> _SessionWrite:
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
    times = _merged_times(sessions)
    update.update(times)
    # The itype too: a raw document stored with this hash (forged) is not this session.
    query: dict[str, Any] = {"_hash": first._hash, "itype": "session"}
    caps = [s.max_events for s in sessions if s.max_events is not None]
    if not caps:
        return _SessionWrite(query, update)
    limit = len(first._ref) + min(caps)
    if len(refs) > limit:
        refs = refs[:limit]
        update["$addToSet"] = {"_ref": {"$each": refs}}
        update["$set"] = {"saturated": True}
    query[f"_ref.{limit - 1}"] = {"$exists": False}
    return _SessionWrite(query, update, limit, times, adds=len(refs) - len(first._ref))


@define
class Archive:
    """The TAHOE collection, with the operations the runner and the CLI need."""

    collection: Collection
    _known: OrderedDict[str, None] = field(factory=OrderedDict, init=False, repr=False)

    @property
    def leases(self) -> Leases:
        """Work claims, coordinated in the ``cybexp_state`` collection of the same database."""
        return Leases(self.collection.database[STATE_COLLECTION], self.collection)

    @classmethod
    def connect(cls, settings: Settings, **client_options: Any) -> Archive:
        """Connect to ``settings.mongo_url`` (which must be set), without blocking."""
        if not settings.mongo_url:
            raise ValueError("settings.mongo_url is not set")
        options: dict[str, Any] = {
            "connect": False,
            "tz_aware": True,
            "appname": "cybexp-analytics",
        }
        if "serverselectiontimeoutms" not in settings.mongo_url.lower():
            # Fail over to the runner's back-off after 10 s instead of the driver's 30 s.
            options["serverSelectionTimeoutMS"] = 10_000
        client: MongoClient = MongoClient(settings.mongo_url, **{**options, **client_options})
        return cls(client[settings.db][settings.coll])

    def close(self) -> None:
        self.collection.database.client.close()

    # ------------------------------------------------------------------ indexes

    def ensure_indexes(self) -> None:
        """Create the indexes the queries need (idempotent).

        ``_hash`` is unique per itype, not across them, so a raw document stored
        with an instance's hash cannot keep that instance out (an archive's
        older unique ``_hash`` index is replaced, see :meth:`_unique_hash`).
        """
        coll = self.collection
        self._unique_hash()
        coll.create_index([("_ref", ASCENDING)])
        coll.create_index([("itype", ASCENDING), ("sub_type", ASCENDING), ("_id", ASCENDING)])
        coll.create_index([("filters", ASCENDING)])

    def _unique_hash(self) -> None:
        """The unique ``(_hash, itype)`` index; drop a unique ``_hash`` index once it exists.

        Honest documents of two itypes never share a hash (the itype is hashed),
        and lookups by ``_hash`` use the compound index's prefix.
        """
        coll = self.collection
        coll.create_index([("_hash", ASCENDING), ("itype", ASCENDING)], unique=True)
        for name, spec in coll.index_information().items():
            if spec.get("key") == [("_hash", ASCENDING)] and spec.get("unique"):
                log.warning("replacing the unique index %s by unique (_hash, itype)", name)
                coll.drop_index(name)

    # ------------------------------------------------------------------ raw documents

    def insert_raw(self, raws: Sequence[Raw]) -> tuple[int, int]:
        """Store raw documents; returns ``(inserted, already stored)``."""
        if not raws:
            return 0, 0
        first: dict[str, dict[str, Any]] = {}
        for raw in raws:  # the first writer's orgid wins, as in TAHOE
            first.setdefault(raw._hash, raw.doc)
        docs = list(first.values())
        inserted = self._insert_unordered(docs)
        return inserted, len(raws) - inserted

    # ------------------------------------------------------------------ queue

    @staticmethod
    def pending_query(fid: str, version: str, consumes: Consumes) -> dict[str, Any]:
        """Documents of ``consumes`` this filter version has neither processed nor given up on."""
        query: dict[str, Any] = {"itype": consumes.itype}
        if consumes.sub_type is not None:
            query["sub_type"] = consumes.sub_type
        query["filters"] = {"$ne": fid}
        query[f"_failed.{fid}.final_for"] = {"$ne": version}
        return query

    def count_pending(self, fid: str, version: str, consumes: Iterable[Consumes]) -> int:
        return sum(
            self.collection.count_documents(self.pending_query(fid, version, c)) for c in consumes
        )

    # ------------------------------------------------------------------ instances

    def _remember(self, hashes: Iterable[str]) -> None:
        known = self._known
        for value in hashes:
            known[value] = None
            known.move_to_end(value)
        while len(known) > KNOWN_CACHE_SIZE:
            known.popitem(last=False)

    def _insert_unordered(self, docs: list[dict[str, Any]]) -> int:
        """Insert ``docs``; documents already stored (duplicate ``_hash``) are not an error."""
        if not docs:
            return 0
        try:
            return len(self.collection.insert_many(docs, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            fatal = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if fatal:
                raise
            return int(exc.details.get("nInserted", len(docs) - len(errors)))

    def write_instances(self, instances: Iterable[Instance]) -> WriteStats:
        """Store instances and their descendants with a few unordered bulk writes.

        Instances are de-duplicated in memory; hashes this process has already
        stored are skipped; attributes, objects and events are insert-only (a
        stored document wins, as in TAHOE); sessions are upserted and merged
        (``_ref`` union, earliest ``start_time``, latest ``end_time``), a session
        with ``max_events`` up to its cap (then ``saturated: true``). Running it
        twice with the same input leaves the database unchanged (but for the
        ``saturated`` mark on a capped session that the first run filled exactly).
        """
        unique: dict[str, Instance] = {}
        sessions: dict[str, list[Session]] = {}
        for instance in flatten(instances):
            if isinstance(instance, Session):
                sessions.setdefault(instance._hash, []).append(instance)
            elif instance._hash not in unique:
                unique[instance._hash] = instance
        known = self._known
        new = [inst.doc for h, inst in unique.items() if h not in known]
        stats = WriteStats(existing=len(unique) - len(new))
        stats.inserted = self._insert_unordered(new)
        stats.existing += len(new) - stats.inserted
        self._remember(unique)
        if sessions:
            self._upsert_sessions([_session_update(group) for group in sessions.values()])
            stats.sessions = len(sessions)
        return stats

    def _upsert_sessions(self, writes: list[_SessionWrite]) -> None:
        """Upsert sessions; redo those that failed with a duplicate key (see ``_SessionWrite``)."""
        pending = [(write.upsert(), write) for write in writes]
        for attempt in range(3):
            try:
                self.collection.bulk_write([op for op, _ in pending], ordered=False)
                break
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if attempt == 2 or any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                failed = [pending[e["index"]] for e in errors]
                pending = [(redo, write) for op, write in failed for redo in write.retry()]
        trims = [op for op in (write.trim() for write in writes) if op is not None]
        if trims:
            self.collection.bulk_write(trims, ordered=False)

    # ------------------------------------------------------------------ marks

    def mark(self, updates: Sequence[tuple[ObjectId, dict[str, Any]]]) -> int:
        """Apply per-document marks with one unordered bulk write."""
        if not updates:
            return 0
        ops = [UpdateOne({"_id": _id}, update) for _id, update in updates]
        result = self.collection.bulk_write(ops, ordered=False)
        return result.matched_count

    # ------------------------------------------------------------------ status and failures

    def count(self, query: Mapping[str, Any]) -> int:
        return self.collection.count_documents(dict(query))

    def failures(
        self, fid: str, query: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Documents this filter failed on (given up or still being retried)."""
        full = {f"_failed.{fid}": {"$exists": True}, **(query or {})}
        projection = {
            "_id": 0,
            "_hash": 1,
            "itype": 1,
            "sub_type": 1,
            "orgid": 1,
            f"_failed.{fid}": 1,
        }
        with self.collection.find(full, projection).sort("_id", ASCENDING) as cursor:
            yield from cursor

    def find_document(self, hash_: str) -> dict[str, Any] | None:
        return self.collection.find_one({"_hash": hash_}, _P)

    def clear_failures(self, fid: str, query: Mapping[str, Any] | None = None) -> int:
        """Forget failures so the documents are offered to the filter again."""
        full = {f"_failed.{fid}": {"$exists": True}, **(query or {})}
        return self.collection.update_many(full, {"$unset": {f"_failed.{fid}": ""}}).modified_count
