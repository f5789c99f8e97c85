"""Claiming work without writing to the documents: leased ``_id`` ranges.

Each (filter, input) queue has one small coordination document in the
``cybexp_state`` collection::

    {"_id": "<filter id>:<itype>:<sub_type>", "version": 7, "cursor": ObjectId(...),
     "leases": [{"id": token, "by": worker, "lo": ObjectId, "hi": ObjectId, "until": epoch}]}

A claim reads it, finds the next pending documents after ``cursor`` (leaving
out every leased range), and commits ``cursor = hi`` plus a new lease with one
compare-and-swap on ``version``. Two workers can never commit the same range,
so no document is processed by two workers at once; a crashed worker's lease
expires and the next claim takes the range over. A batch therefore costs one
``find`` and two tiny updates, instead of an update per document: the
documents themselves are written only once, when they are marked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from attrs import define
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from cybexp_core.declaration import Consumes

__all__ = ["STATE_COLLECTION", "Leases"]

log = logging.getLogger(__name__)

STATE_COLLECTION = "cybexp_state"
_MAX_RACES = 50


@define
class Leases:
    """Claims over ``documents`` coordinated through ``state``."""

    state: Collection
    documents: Collection

    @staticmethod
    def key(fid: str, consumes: Consumes) -> str:
        return f"{fid}:{consumes.itype}:{consumes.sub_type or '*'}"

    def claim(
        self,
        key: str,
        pending: dict[str, Any],
        *,
        token: str,
        owner: str,
        limit: int,
        lease_seconds: float,
    ) -> list[dict[str, Any]]:
        """Lease the next pending documents (oldest first) to ``token`` and return them.

        An expired lease is taken over first: its documents may be half done.
        Returns ``[]`` when nothing after the cursor is pending.
        """
        for _ in range(_MAX_RACES):
            state = self.state.find_one({"_id": key}) or {}
            version = state.get("version", 0)
            leases = state.get("leases", [])
            now = time.time()
            expired = next((lease for lease in leases if lease["until"] <= now), None)
            others = [
                {"_id": {"$gte": lease["lo"], "$lte": lease["hi"]}}
                for lease in leases
                if lease is not expired
            ]
            query = dict(pending)
            if others:
                query["$nor"] = others
            if expired is not None:
                taken = self.state.update_one(
                    {"_id": key, "version": version, "leases.id": expired["id"]},
                    {
                        "$set": {
                            "version": version + 1,
                            "leases.$.id": token,
                            "leases.$.by": owner,
                            "leases.$.until": now + lease_seconds,
                        }
                    },
                )
                if not taken.modified_count:
                    continue
                log.warning("took over expired lease of %s on %s", expired["by"], key)
                query["_id"] = {"$gte": expired["lo"], "$lte": expired["hi"]}
                return list(self.documents.find(query).sort("_id", ASCENDING))
            if state.get("cursor") is not None:
                query["_id"] = {"$gt": state["cursor"]}
            docs = list(self.documents.find(query).sort("_id", ASCENDING).limit(limit))
            if not docs:
                return []
            lease = {
                "id": token,
                "by": owner,
                "lo": docs[0]["_id"],
                "hi": docs[-1]["_id"],
                "until": now + lease_seconds,
            }
            try:
                committed = self.state.update_one(
                    {"_id": key, "version": version},
                    {
                        "$set": {"cursor": lease["hi"], "version": version + 1},
                        "$push": {"leases": lease},
                    },
                    upsert=not state,
                )
            except DuplicateKeyError:  # another worker created the state first
                continue
            if committed.modified_count or committed.upserted_id is not None:
                return docs
        log.warning("claim on %s lost %d races in a row; will try again", key, _MAX_RACES)
        return []

    def cursor(self, key: str) -> ObjectId | None:
        """Where the next claim on ``key`` starts (``None``: at the oldest document)."""
        state = self.state.find_one({"_id": key}, {"cursor": 1})
        return None if state is None else state.get("cursor")

    def release(self, key: str, token: str) -> None:
        """The batch is marked: forget its lease."""
        self.state.update_one({"_id": key}, {"$pull": {"leases": {"id": token}}})

    def expire(self, key: str, token: str) -> None:
        """The batch could not finish: let the next claim take its range over now."""
        self.state.update_one({"_id": key, "leases.id": token}, {"$set": {"leases.$.until": 0}})

    def rewind(self, key: str, to: ObjectId | None = None) -> None:
        """Start the next claim after ``to`` (from the oldest document when ``None``)."""
        self.state.update_one({"_id": key}, {"$set": {"cursor": to}, "$inc": {"version": 1}})
