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

__all__ = ["WORKERS_COLLECTION", "Heartbeat", "running_workers"]

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
