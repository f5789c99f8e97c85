"""A heartbeat per running worker in ``cybexp_workers``: who works, where, on what.

``status`` lists the workers whose heartbeat is recent ("workers running now").
Writes are throttled (one every ``every`` seconds at most, plus one when the
worker stops), so a busy daemon does not pay an update per batch.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import PyMongoError

__all__ = [
    "WORKERS_COLLECTION",
    "Heartbeat",
    "describe_workers",
    "running_workers",
    "worker_rows",
]

WORKERS_COLLECTION = "cybexp_workers"
#: A worker whose heartbeat is older than this is not "running now".
STALE_AFTER = 60.0


class Heartbeat:
    """The heartbeat document of one worker process."""

    def __init__(self, collection: Collection, worker_id: str, *, every: float = 10.0) -> None:
        self.collection = collection
        self.every = every
        self.document: dict[str, Any] = {
            "_id": worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(timezone.utc),
            "last_batch": None,
            "current_filter": None,
            "mode": None,
        }
        self._written = 0.0

    def update(self, *, force: bool = False, **fields: Any) -> None:
        """Record ``fields``; write when ``every`` seconds passed (or ``force``)."""
        self.document.update(fields)
        now = time.monotonic()
        if not force and now - self._written < self.every:
            return
        self._written = now
        body = {**self.document, "updated": datetime.now(timezone.utc)}
        try:
            self.collection.replace_one({"_id": body["_id"]}, body, upsert=True)
        except PyMongoError:
            self._written = 0.0  # try again next time; the daemon reports the outage

    def batch_done(self, filter_name: str) -> None:
        self.update(last_batch=datetime.now(timezone.utc), current_filter=filter_name)

    def stop(self) -> None:
        """The worker stops: remove its heartbeat."""
        with contextlib.suppress(PyMongoError):
            self.collection.delete_one({"_id": self.document["_id"]})


def running_workers(collection: Collection, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The workers with a recent heartbeat, oldest first."""
    since = (now or datetime.now(timezone.utc)) - timedelta(seconds=STALE_AFTER)
    return list(collection.find({"updated": {"$gte": since}}).sort("started", 1))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return str(value.astimezone(timezone.utc).isoformat(timespec="seconds"))


def worker_rows(collection: Collection) -> list[dict[str, Any]]:
    """The workers running now, for ``status`` (times as UTC ISO-8601)."""
    return [
        {
            "id": doc["_id"],
            "host": doc.get("host"),
            "pid": doc.get("pid"),
            "started": _iso(doc.get("started")),
            "last_batch": _iso(doc.get("last_batch")),
            "current_filter": doc.get("current_filter"),
            "mode": doc.get("mode"),
            "seen": _iso(doc.get("updated")),
        }
        for doc in running_workers(collection)
    ]


def describe_workers(rows: list[dict[str, Any]]) -> list[str]:
    """``status``'s text lines about the workers running now."""
    if not rows:
        return ["workers running now: none"]
    lines = [f"workers running now: {len(rows)}"]
    for row in rows:
        doing = row["current_filter"] or "idle"
        lines.append(
            f"  {row['host']}/{row['pid']}  since {row['started']}  last batch "
            f"{row['last_batch'] or 'none yet'}  {doing}  ({row['mode'] or 'starting'})"
        )
    return lines
