"""MongoDB backend: the raw-document queue, batched instance writes and the bookkeeping.

All TAHOE documents share one collection (as in TAHOE), told apart by
``itype``. :class:`Archive` is the runner's and the CLI's only way to the
database: instance writes (sessions merged by ``session_writes.py``), work
claims (``leases.py``) and the runner's bookkeeping, whose stored form
``bookkeeping.py`` alone knows.

Only the wire protocol is assumed: the same code runs on mongod, a replica
set or SecantusDB. ``find_one_and_update`` is not used (it is slow on some
servers); claims write nothing to the documents (see ``leases.py``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure

from cybexp_core import oids
from cybexp_core.census import Census, Pair
from cybexp_core.config import Settings
from cybexp_core.declaration import Consumes
from cybexp_core.gather import gather
from cybexp_core.leases import STATE_COLLECTION
from cybexp_core.legacy_marks import MAX_RAW_REFS
from cybexp_core.models import Instance, Raw, flatten
from cybexp_core.progress import ArchiveBookkeeping, Progress
from cybexp_core.session_writes import PROVENANCE, SessionWrite, session_update

__all__ = ["MAX_RAW_REFS", "Archive", "Progress", "WriteStats", "flatten"]

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
#: What the server answers when a requested index collides with one it has: the same name
#: with another key or options (an operator's index), or the same key and options.
INDEX_CONFLICTS = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict
#: Hashes remembered as already stored, to skip re-inserting them.
KNOWN_CACHE_SIZE = 200_000
_P = {"_id": 0}


@define
class WriteStats:
    """What one batched write did."""

    inserted: int = 0
    existing: int = 0
    sessions: int = 0


_logged: set[str] = set()


def _log_once(level: int, message: str) -> None:
    """Log ``message`` once per process (every worker and run ensures the indexes)."""
    if message not in _logged:
        _logged.add(message)
        log.log(level, "%s", message)


def _with_provenance(doc: dict[str, Any], sources: Sequence[str] | None) -> dict[str, Any]:
    if sources and doc.get("itype") == "event":
        # One raw document: the smallest _hash of those that made it in this write, so the
        # stored bytes do not depend on the order of the batch (an event is insert-only).
        doc[PROVENANCE] = [min(sources)]
    return doc


def _kinds(docs: Iterable[Mapping[str, Any]]) -> set[Pair]:
    """The (itype, sub_type) pairs of ``docs``, for the census."""
    return {(doc.get("itype"), doc.get("sub_type")) for doc in docs}


@define
class Archive(ArchiveBookkeeping):
    """The TAHOE collection, with the operations the runner and the CLI need."""

    collection: Collection
    _known: OrderedDict[str, None] = field(factory=OrderedDict, init=False, repr=False)
    _census: Census | None = field(default=None, init=False, repr=False)

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

    @property
    def census(self) -> Census:
        """Instance counts per (itype, sub_type), kept in ``cybexp_state`` (``census.py``)."""
        if self._census is None:
            self._census = Census(self.collection.database[STATE_COLLECTION], self.collection)
        return self._census

    def close(self) -> None:
        self.collection.database.client.close()

    # ------------------------------------------------------------------ indexes

    def ensure_indexes(self) -> None:
        """Create the indexes the queries need (idempotent); each one is paid on every
        insert, so there are only these (``docs/tahoe-compatibility.md`` says which query
        each one serves). Indexes an archive already has are left alone, but for one:

        ``_hash`` is unique per itype, not across them, so a raw document stored
        with an instance's hash cannot keep that instance out (an archive's
        older unique ``_hash`` index is replaced, see :meth:`_unique_hash`).
        """
        coll = self.collection
        self._unique_hash()
        coll.create_index([("_ref", ASCENDING)])
        coll.create_index([("itype", ASCENDING), ("sub_type", ASCENDING), ("_id", ASCENDING)])
        self.ensure_bookkeeping_indexes()

    def ensure_queue_index(self, consumes: Consumes) -> None:
        """The ``(itype, _id)`` index a queue reading every sub_type of an itype needs
        (``Consumes("event")``: its claims, window counts and ``status``), partial to that
        itype: the inserts of other itypes do not pay it, and those queries have equality
        on ``itype``. The runner makes it before such a queue's first claim, so where no
        such filter runs nothing pays it. An ``(itype, _id)`` index an archive already has,
        of every itype (earlier versions made those) or of this one, is used instead (no
        second index to pay); one the server refuses (an operator's index of that name) is
        logged and done without. Queues of one sub_type use ``(itype, sub_type, _id)``."""
        if consumes.sub_type is not None:
            return
        itype, key = consumes.itype, [("itype", ASCENDING), ("_id", ASCENDING)]
        for name, spec in self.collection.index_information().items():
            partial = spec.get("partialFilterExpression")
            if list(spec.get("key", ())) != key or partial not in (None, {"itype": itype}):
                continue
            if partial is None:
                _log_once(
                    logging.INFO,
                    f"{itype} queues use the index {name}, which holds every itype (were it "
                    f"dropped, the next run would make one of {itype} documents only, which "
                    f"the inserts of other itypes skip)",
                )
            return
        name = f"itype_1__id_1_{itype}"
        try:
            self.collection.create_index(key, name=name, partialFilterExpression={"itype": itype})
        except OperationFailure as exc:
            if exc.code not in INDEX_CONFLICTS:
                raise
            why = (exc.details or {}).get("errmsg") or exc
            _log_once(logging.WARNING, f"no index {name} for {itype} queues: {why}")

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
        self.census.note(_kinds(docs))
        stored = self._insert_unordered(docs)
        return len(docs) - len(stored), len(raws) - len(docs) + len(stored)

    # ------------------------------------------------------------------ instances

    def _remember(self, hashes: Iterable[str]) -> None:
        known = self._known
        for value in hashes:
            known[value] = None
            known.move_to_end(value)
        while len(known) > KNOWN_CACHE_SIZE:
            known.popitem(last=False)

    def _insert_unordered(self, docs: list[dict[str, Any]]) -> set[int]:
        """Insert ``docs``; returns the indexes of those already stored (a duplicate key is
        not an error). Those without an ``_id`` get one of :func:`oids.new_ids`."""
        if not docs:
            return set()
        for doc, oid in zip(docs, oids.new_ids(len(docs)), strict=True):
            doc.setdefault("_id", oid)
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {e["index"] for e in errors}
        return set()

    def write_instances(
        self, instances: Iterable[Instance], provenance: Mapping[str, Sequence[str]] | None = None
    ) -> WriteStats:
        """Store instances and their descendants with a few unordered bulk writes.

        Instances are de-duplicated in memory (``gather.py``); hashes this process has
        already stored are skipped, with their descendants; attributes, objects and
        events are insert-only (a stored document wins, as in TAHOE); a new session is
        inserted with them, one
        already stored is merged into by an upsert (``_ref`` union, earliest
        ``start_time``, latest ``end_time``), a session
        with ``max_events`` up to its cap (then ``saturated: true``). Running it
        twice with the same input leaves the database unchanged (but for the
        ``saturated`` mark on a capped session that the first run filled exactly).

        ``provenance`` maps the hash of an output event or session to the raw
        documents (``_hash``) it was made from: stored in its ``_from`` as it is
        written (an event keeps the first; a session adds, up to ``MAX_FROM``).
        """
        provenance = provenance or {}
        known = self._known
        unique, sessions = gather(instances, known)
        new = [
            _with_provenance(inst.doc, provenance.get(h))
            for h, inst in unique.items()
            if h not in known
        ]
        writes = {h: session_update(group, provenance.get(h, ())) for h, group in sessions.items()}
        # A session this process has not stored yet is inserted with the rest; one already
        # stored (known, or a duplicate key) is merged into by an upsert.
        fresh = [h for h in writes if h not in known]
        kinds = _kinds(new)
        kinds.update((group[0].itype, group[0].sub_type) for group in sessions.values())
        self.census.note(kinds)
        stored = self._insert_unordered(new + [writes[h].document() for h in fresh])
        already = sum(1 for i in stored if i < len(new))
        stats = WriteStats(len(new) - already, len(unique) - len(new) + already, len(writes))
        merge = [write for h, write in writes.items() if h in known]
        merge += [writes[fresh[i - len(new)]] for i in sorted(stored) if i >= len(new)]
        if merge:
            self._upsert_sessions(merge)
        self._remember(unique)
        self._remember(writes)
        return stats

    def _upsert_sessions(self, writes: list[SessionWrite]) -> None:
        """Upsert sessions; redo those that failed with a duplicate key (see ``SessionWrite``)."""
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
        trims = [op for write in writes for op in write.trim()]
        if trims:
            self.collection.bulk_write(trims, ordered=False)

    # ------------------------------------------------------------------ counts

    def count(self, query: Mapping[str, Any]) -> int:
        return self.collection.count_documents(dict(query))

    def hashes_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Up to ``limit`` stored ``_hash`` values that start with the lower-case hex ``prefix``.

        A range on the unique ``_hash`` index with both bounds (hex digits sort before
        ``g``), so the cost does not grow with the collection.
        """
        query = {"_hash": {"$gte": prefix, "$lt": prefix + "g"}}
        cursor = self.collection.find(query, {"_id": 0, "_hash": 1}).sort("_hash", 1).limit(limit)
        return [doc["_hash"] for doc in cursor]
