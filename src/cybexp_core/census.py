"""Instance counts per ``(itype, sub_type)`` without counting the archive (``status``, issue 13).

One record in the ``cybexp_state`` collection::

    {"_id": "census", "version": 12, "rebuilt": epoch, "complete": true,
     "pairs": [{"itype": "raw", "sub_type": "cowrie", "count": 1200, "upto": ObjectId}, ...]}

``count`` is how many documents of the pair have an ``_id`` at or below ``upto`` ("counted
up to"). A reader adds the documents after ``upto`` (a both-bounded ``_id`` range on the
``(itype, sub_type, _id)`` index, so it costs the new documents, not the archive) and moves
``upto`` forward to what has settled (:data:`SETTLE_SECONDS` ago), with one compare-and-swap
on ``version``; a reader that loses the race just does not write.

Writers (:class:`~cybexp_core.backend.Archive`'s raw and instance inserts) :meth:`Census.note`
a pair before its first documents are stored: a read of the record once per process and a
write only for a pair the record lacks (``count`` 0, ``upto`` the smallest ObjectId, so all
its documents are counted). The first writer creates the record with ``complete`` false:
documents stored before it (an archive older than the census, or filled by another program)
are not known to it, so the next reader rebuilds it from one full count grouped by pair
(:meth:`rebuild`, also ``status --recount``), once. Nothing here asks whether the collection
is empty or how big it is: on SecantusDB even ``find_one({})`` reads the collection.

Approximate, until the next rebuild: deleted documents are still counted, and documents
stored with an ``_id`` older than their pair's ``upto`` (written more than
:data:`SETTLE_SECONDS` after their ``_id`` was made, or by a program that does not note its
pairs, in a pair this record lacks) are not.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from cybexp_core import oids

__all__ = ["CENSUS_ID", "ITYPES", "SETTLE_SECONDS", "Census", "Pair", "by_itype"]

CENSUS_ID = "census"
#: ``upto`` stays this many seconds of ObjectId time behind now: documents in the last
#: minute are counted on every read, so one whose insert is slow is not passed over.
SETTLE_SECONDS = 60.0
#: Seconds of ObjectId time past "now" that a read counts (client clocks; as ``status``).
SKEW_SECONDS = 5.0
_MAX_RACES = 20

Pair = tuple[str, Any]  # (itype, sub_type); sub_type is None where a document has none
#: The itypes ``status`` reports, in its order.
ITYPES = ("raw", "attribute", "object", "event", "session")


def by_itype(counts: Mapping[Pair, int]) -> dict[str, int]:
    """Documents per itype of :data:`ITYPES`, from counts per pair."""
    totals = dict.fromkeys(ITYPES, 0)
    for (itype, _), count in counts.items():
        if itype in totals:
            totals[itype] += count
    return totals


def _bounds() -> tuple[float, ObjectId, ObjectId]:
    """``(now, settled, cap)``: the time, and the ``_id`` bounds of what has settled
    (:data:`SETTLE_SECONDS` ago) and of what a read counts (:data:`SKEW_SECONDS` ahead)."""
    now = time.time()
    return now, oids.upper_at(now - SETTLE_SECONDS), oids.upper_at(now + SKEW_SECONDS)


def _entry(pair: Pair, count: int, upto: ObjectId) -> dict[str, Any]:
    return {"itype": pair[0], "sub_type": pair[1], "count": count, "upto": upto}


def _pairs(record: Mapping[str, Any]) -> dict[Pair, dict[str, Any]]:
    return {(e["itype"], e.get("sub_type")): e for e in record.get("pairs", [])}


class Census:
    """The census record of one collection (``state``: its ``cybexp_state``)."""

    def __init__(self, state: Collection, documents: Collection) -> None:
        self.state = state
        self.documents = documents
        #: Pairs this process has seen in the record (so it never notes them again).
        self._known: set[Pair] = set()

    def read(self) -> dict[str, Any] | None:
        return self.state.find_one({"_id": CENSUS_ID})

    # ------------------------------------------------------------------ writers

    def note(self, pairs: Iterable[Pair]) -> None:
        """Have the record list ``pairs`` before their documents are stored: nothing to do
        for pairs already known to this process, else a read, and a write per new pair."""
        new = set(pairs) - self._known
        if not new:
            return
        for _ in range(_MAX_RACES):
            record = self.read()
            if record is None:  # the first writer: whatever is stored already, a rebuild counts
                entries = [_entry(p, 0, oids.OID_MIN) for p in sorted(new, key=repr)]
                try:
                    self.state.insert_one(
                        {"_id": CENSUS_ID, "version": 1, "complete": False, "pairs": entries}
                    )
                except DuplicateKeyError:
                    continue
                self._known.update(new)
                return
            listed = _pairs(record)
            self._known.update(listed)
            missing = sorted(new - set(listed), key=repr)
            if not missing:
                return
            entries = [_entry(p, 0, oids.OID_MIN) for p in missing]
            if self._swap(record, {"pairs": record.get("pairs", []) + entries}):
                self._known.update(missing)
                return

    def ready(self) -> bool:
        """Whether the record exists and has been built from a full count (else the next
        :meth:`counts` makes one)."""
        record = self.read()
        return record is not None and bool(record.get("complete"))

    def _swap(self, record: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
        """Replace ``record`` by one with ``fields`` if no one changed it meanwhile."""
        version = record.get("version", 0)
        body = {**record, **fields, "version": version + 1}
        body.pop("_id", None)
        done = self.state.replace_one({"_id": CENSUS_ID, "version": version}, body)
        return bool(done.modified_count)

    # ------------------------------------------------------------------ readers

    def counts(self) -> dict[Pair, int]:
        """Documents per pair: the recorded counts plus the documents after each ``upto``;
        moves ``upto`` forward when settled documents were counted. Rebuilds a missing
        record (a full count, once)."""
        record = self.read()
        if record is None or not record.get("complete"):
            return self.rebuild()
        _, settled, cap = _bounds()
        totals: dict[Pair, int] = {}
        entries, moved = [], False
        for pair, entry in _pairs(record).items():
            upto, count = entry["upto"], entry["count"]
            if upto < settled:
                gained = self._count(pair, upto, settled)
                if gained:
                    upto, count, moved = settled, count + gained, True
            totals[pair] = count + self._count(pair, upto, cap)
            entries.append(_entry(pair, count, upto))
        if moved:
            self._swap(record, {"pairs": entries})  # lost race: another reader moved it
        return totals

    def _count(self, pair: Pair, lo: ObjectId, hi: ObjectId) -> int:
        if lo >= hi:
            return 0
        query = {"itype": pair[0], "sub_type": pair[1], "_id": {"$gt": lo, "$lte": hi}}
        return self.documents.count_documents(query)

    def rebuild(self) -> dict[Pair, int]:
        """Count every document, grouped by pair (one pass over the collection), and store
        the result as the record; returns the counts (settled and recent)."""
        now, settled, cap = _bounds()
        counted = self.full_count(settled)
        for _ in range(_MAX_RACES):
            record = self.read()
            entries = [_entry(p, n, settled) for p, n in sorted(counted.items(), key=repr)]
            # Pairs noted while the count ran hold no settled document it did not see.
            noted = [p for p in _pairs(record or {}) if p not in counted]
            entries += [_entry(p, 0, oids.OID_MIN) for p in noted]
            fields = {"pairs": entries, "rebuilt": now, "complete": True}
            if record is None:
                try:
                    self.state.insert_one({"_id": CENSUS_ID, "version": 1, **fields})
                except DuplicateKeyError:
                    continue
            elif not self._swap(record, fields):
                continue
            self._known.update(_pairs(fields))
            return {
                (e["itype"], e["sub_type"]): e["count"]
                + self._count((e["itype"], e["sub_type"]), e["upto"], cap)
                for e in entries
            }
        raise RuntimeError("the census record changed under every rebuild")

    def full_count(self, upto: ObjectId = oids.OID_MAX) -> dict[Pair, int]:
        """Every document, counted by pair: how many have an ``_id`` at or below ``upto`` (a
        pair whose documents are all newer is listed with 0)."""
        settled = {"$cond": [{"$lte": ["$_id", upto]}, 1, 0]}
        stages = [{"$group": {"_id": {"i": "$itype", "s": "$sub_type"}, "n": {"$sum": settled}}}]
        return {
            (row["_id"]["i"], row["_id"].get("s")): row["n"]
            for row in self.documents.aggregate(stages)
            if isinstance(row["_id"].get("i"), str)
        }
