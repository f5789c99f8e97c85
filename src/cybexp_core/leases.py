"""Claiming work without writing to the documents: a checkpoint and leased ``_id`` ranges.

Each (filter, input) queue has one small coordination document in the
``cybexp_state`` collection::

    {"_id": "<filter id>|<itype>|<sub_type>", "version": 7,
     "cursor": ObjectId(...), "span": 120.0,
     "leases": [{"id": token, "by": worker, "host": ..., "pid": ..., "started": ...,
                 "lo": ObjectId, "hi": ObjectId, "until": epoch, "base": {...}}],
     "counts": {"processed": 10, "failed": 1, "skipped": 0, "problems": 2, "instances": 30},
     "verified": epoch}

``cursor`` is the checkpoint: every document of that input at or below it,
outside the open leases, is done (processed, not for the filter, or failed,
see ``bookkeeping.py``). A lease covers ``(lo, hi]``. ``counts`` are the
filter's totals, ``$inc``-ed when a lease is released, in the same update
that removes it, so they count each document once; ``base`` is what the
counts already hold for a range processed again (see ``windows.py``).
``verified`` is when the last verification of every window of the queue began.

A claim reads the state, queries ``(cursor, upper]`` with equality on
``itype`` (and ``sub_type``) and both ``_id`` bounds, and commits ``cursor =
hi`` plus a new lease with one compare-and-swap on ``version``: no two
workers ever hold the same range. ``upper`` is adaptive: ``span`` seconds of
ObjectId time past the cursor, doubled while windows come back empty or thin
(galloping over idle time in a few empty index probes; 16-fold in a queue's first
claim, which starts at ObjectId 0) and cut to the width
that held a batch when one comes back full, never beyond now + ``skew``. So
a claim costs the batch, not the archive, on mongod and SecantusDB alike.

Empty space is passed over only up to now - ``settle`` seconds, so a document
being inserted right now is not left behind. Documents that still appear
behind the checkpoint (client clocks, restored archives) are found by the
verification of ``windows.py``.

A lease names its owner (worker id, host, pid, process start time). An expired
lease, or one whose owner process on this host is gone, is taken over by the
next claim, also when nothing in it is pending any more: its taker releases it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection as Tokens
from collections.abc import Mapping
from typing import Any

from attrs import define, field
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from cybexp_core import oids
from cybexp_core.declaration import Consumes
from cybexp_core.owner import Owner

__all__ = ["COUNTS", "STATE_COLLECTION", "Claim", "Leases"]

log = logging.getLogger(__name__)

STATE_COLLECTION = "cybexp_state"
#: The per-filter counters kept in the state document.
COUNTS = ("processed", "failed", "skipped", "problems", "instances")
_MAX_RACES = 50
_MAX_PROBES = 64
#: First width of a claim window (seconds of ObjectId time), and the narrowest: one step
#: of the line, the distance between two ObjectIds one process makes in a row (a bulk
#: insert packs thousands into a width far below a microsecond; a wider floor makes
#: every claim in such a cluster read the rest of it, which SecantusDB pays in full
#: whatever the ``limit``).
START_SPAN = 60.0
MIN_SPAN = 1 / oids.TICK
#: The widest window: all of ObjectId time (2**32 s). Without it, a trickle of thin claims
#: doubled the span ~960 times until ``int(span * TICK)`` overflowed (a float infinity).
MAX_SPAN = float(1 << 32)
#: How fast a queue's first claim widens its empty windows (later claims double them).
FIRST_GALLOP = 16


@define
class Claim:
    """A leased range ``(lo, hi]`` of one queue and the documents in it."""

    key: str
    lo: ObjectId
    hi: ObjectId
    docs: list[dict[str, Any]]
    #: The lease's token; ``None`` for a claim of empty space (no lease to release).
    token: str | None = None
    #: What the counters already hold for this range.
    base: Mapping[str, int] = field(factory=dict)
    taken_over: bool = False


@define
class Leases:
    """Claims over ``documents`` coordinated through ``state``."""

    state: Collection
    documents: Collection

    @staticmethod
    def key(fid: str, consumes: Consumes) -> str:
        return f"{fid}|{consumes.itype}|{consumes.sub_type or '*'}"

    def read(self, key: str) -> dict[str, Any]:
        """The coordination document of ``key`` (empty when the queue was never claimed)."""
        return self.state.find_one({"_id": key}) or {}

    def _find(
        self, selector: Mapping[str, Any], lo: ObjectId, hi: ObjectId, limit: int = 0
    ) -> list[dict[str, Any]]:
        """The documents of ``(lo, hi]`` (the first ``limit``, 0 for all), oldest first: one
        batch of ``limit`` in one reply, listed by the cursor at once (``to_list``), not
        document by document."""
        query = {**selector, "_id": {"$gt": lo, "$lte": hi}}
        cursor = self.documents.find(query, batch_size=limit).sort("_id", ASCENDING)
        return cursor.limit(limit).to_list()

    def claim(
        self,
        key: str,
        selector: Mapping[str, Any],
        *,
        token: str,
        owner: Owner,
        limit: int,
        lease_seconds: float,
        skew: float = 5.0,
        settle: float = 2.0,
        held: Tokens[str] = (),
    ) -> Claim | None:
        """Lease the next documents of ``selector`` (oldest first) to ``token``.

        An expired or orphaned lease is taken over first (also one of this worker's
        own that is not in ``held``, the tokens it is processing now). Returns ``None`` when
        nothing after the checkpoint is pending; a claim whose ``token`` is
        ``None`` passes over empty space (nothing to process, a window to record).
        """
        for _ in range(_MAX_RACES):
            state = self.read(key)
            version = state.get("version", 0)
            now = time.time()
            leases = state.get("leases", [])
            stale = next((x for x in leases if owner.may_take(x, now, held)), None)
            if stale is not None:
                claim = self._take_over(
                    key, selector, stale, version, token, owner, now + lease_seconds
                )
                if claim is not None:
                    return claim
                continue
            found = self._next_window(state, selector, limit, now, skew, settle)
            if found is None:
                return None
            lo, hi, docs, span = found
            update: dict[str, Any] = {"$set": {"cursor": hi, "span": span, "version": version + 1}}
            claim = Claim(key, lo, hi, docs)
            if docs:
                claim.token = token
                lease = {**owner.fields(), "id": token, "lo": lo, "hi": hi, "base": {}}
                update["$push"] = {"leases": {**lease, "until": now + lease_seconds}}
            try:
                committed = self.state.update_one(
                    {"_id": key, "version": version}, update, upsert=not state
                )
            except DuplicateKeyError:  # another worker created the state first
                continue
            if committed.modified_count or committed.upserted_id is not None:
                return claim
        log.warning("claim on %s lost %d races in a row; will try again", key, _MAX_RACES)
        return None

    def _next_window(
        self,
        state: Mapping[str, Any],
        selector: Mapping[str, Any],
        limit: int,
        now: float,
        skew: float,
        settle: float,
    ) -> tuple[ObjectId, ObjectId, list[dict[str, Any]], float] | None:
        """``(lo, hi, documents, next span)`` of the window after the checkpoint."""
        lo = state.get("cursor") or oids.OID_MIN
        start, cap = oids.to_int(lo), oids.to_int(oids.upper_at(now + skew))
        settled = oids.to_int(oids.upper_at(now - settle))
        if start >= cap:
            return None
        span = min(float(state.get("span") or START_SPAN), MAX_SPAN)
        # A queue's first claim starts at ObjectId 0: decades of empty time before any
        # document, passed over in 7 probes rather than 25 (the window that finds documents
        # reaches the newest either way, so it reads no more than with doubling).
        growth = 2 if state.get("cursor") else FIRST_GALLOP
        scanned, docs, upper = start, [], start
        for _ in range(_MAX_PROBES):
            upper = min(start + int(span * oids.TICK), cap)
            docs = self._find(selector, oids.from_int(scanned), oids.from_int(upper), limit)
            if docs or upper >= cap:
                break
            scanned = upper
            span = min(span * growth, MAX_SPAN)
        if len(docs) >= limit:  # full: next time, the width that held one batch
            hi = oids.to_int(docs[-1]["_id"])
            # After galloping over empty space, the batch's own width, not the gap's.
            origin = start if scanned == start else oids.to_int(docs[0]["_id"]) - 1
            return lo, docs[-1]["_id"], docs, max((hi - origin) / oids.TICK, MIN_SPAN)
        if len(docs) < limit / 2:
            span = min(span * 2, MAX_SPAN)
        # Scanned space holds nothing more; pass over it only where it has settled.
        last = oids.to_int(docs[-1]["_id"]) if docs else start
        hi = max(last, min(upper, settled))
        if hi <= start:
            return None
        return lo, oids.from_int(hi), docs, span

    def _take_over(
        self,
        key: str,
        selector: Mapping[str, Any],
        lease: Mapping[str, Any],
        version: int,
        token: str,
        owner: Owner,
        until: float,
    ) -> Claim | None:
        fields = {f"leases.$.{name}": value for name, value in owner.fields().items()}
        taken = self.state.update_one(
            {"_id": key, "version": version, "leases.id": lease["id"]},
            {
                "$set": {
                    "version": version + 1,
                    "leases.$.id": token,
                    "leases.$.until": until,
                    **fields,
                }
            },
        )
        if not taken.modified_count:
            return None
        log.warning(
            "took over the lease of %s on %s (%s)",
            Owner.describe(lease),
            key,
            owner.why_taken(lease),
        )
        docs = self._find(selector, lease["lo"], lease["hi"])
        return Claim(key, lease["lo"], lease["hi"], docs, token, lease.get("base") or {}, True)

    def claim_range(
        self,
        key: str,
        selector: Mapping[str, Any],
        lo: ObjectId,
        hi: ObjectId,
        base: Mapping[str, int],
        *,
        token: str,
        owner: Owner,
        lease_seconds: float,
    ) -> Claim | None:
        """Lease ``(lo, hi]`` behind the checkpoint again, to process it anew; ``None`` when
        it is not all behind the checkpoint or overlaps an open lease."""
        for _ in range(_MAX_RACES):
            state = self.read(key)
            cursor = state.get("cursor")
            if cursor is None or hi > cursor:
                return None
            if any(x["lo"] < hi and lo < x["hi"] for x in state.get("leases", [])):
                return None
            version = state.get("version", 0)
            lease = {**owner.fields(), "id": token, "lo": lo, "hi": hi, "base": dict(base)}
            lease["until"] = time.time() + lease_seconds
            committed = self.state.update_one(
                {"_id": key, "version": version},
                {"$set": {"version": version + 1}, "$push": {"leases": lease}},
            )
            if committed.modified_count:
                return Claim(key, lo, hi, self._find(selector, lo, hi), token, dict(base))
        return None

    def release(self, claim: Claim, counts: Mapping[str, int]) -> bool:
        """The claim is recorded: forget its lease and add what it changed to the counters.
        ``False`` when the lease was no longer ours (taken over: its taker counts it)."""
        if claim.token is None:
            return True
        inc = {
            f"counts.{name}": counts.get(name, 0) - claim.base.get(name, 0)
            for name in COUNTS
            if counts.get(name, 0) != claim.base.get(name, 0)
        }
        update: dict[str, Any] = {"$pull": {"leases": {"id": claim.token}}}
        if inc:
            update["$inc"] = inc
        done = self.state.update_one({"_id": claim.key, "leases.id": claim.token}, update)
        return bool(done.modified_count)

    def split(self, claim: Claim, at: ObjectId, done: int) -> Claim:
        """Keep ``(lo, at]`` (its first ``done`` documents) leased to ``claim``'s token and
        turn ``(at, hi]`` into an expired lease, which the next claim takes over at once.
        One compare-and-swap of the whole lease list: no range is ever in two leases."""
        for _ in range(_MAX_RACES):
            state = self.read(claim.key)
            leases = state.get("leases", [])
            mine = next((x for x in leases if x["id"] == claim.token), None)
            if mine is None:  # taken over meanwhile: its taker does the rest
                break
            rest = {**mine, "id": f"{claim.token}:rest", "lo": at, "until": 0, "base": {}}
            changed = [{**x, "hi": at} if x is mine else x for x in leases] + [rest]
            version = state.get("version", 0)
            swapped = self.state.update_one(
                {"_id": claim.key, "version": version},
                {"$set": {"leases": changed, "version": version + 1}},
            )
            if swapped.modified_count:
                break
        return Claim(claim.key, claim.lo, at, claim.docs[:done], claim.token, claim.base)

    def verified(self, key: str, started: float) -> None:
        """Every window of ``key`` was recounted by a verification that began at ``started``."""
        self.state.update_one({"_id": key}, {"$max": {"verified": started}})

    def count_held_by(self, worker: str) -> int:
        """How many leases, over every queue, name ``worker`` as their owner."""
        return sum(
            sum(1 for lease in doc.get("leases", []) if lease.get("by") == worker)
            for doc in self.state.find({"leases.by": worker}, {"leases": 1})
        )

    def expire(self, key: str, token: str) -> None:
        """The batch could not finish: let the next claim take its range over now."""
        self.state.update_one({"_id": key, "leases.id": token}, {"$set": {"leases.$.until": 0}})

    def reset(self, key: str) -> None:
        """Forget the checkpoint and the counters: the queue starts again at the oldest document."""
        self.state.delete_one({"_id": key})
