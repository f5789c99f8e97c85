"""Near-real-time intake: wake filters on MongoDB change streams, else say so and poll.

One thread watches the collection for the inserts the filters consume (raw and
derived, filtered on the server) and wakes each filter whose input arrived. The
resume token is kept in ``cybexp_state`` (at most every few seconds), so a
restart or a dropped stream resumes where it was; the drains walk the queue
themselves, so a missed wake-up delays a document to the next poll, never loses
it. Where streams are unavailable (a standalone server, no permission) the
watcher logs it once and the daemon polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import OperationFailure, PyMongoError

from cybexp_core.backoff import Backoff
from cybexp_core.declaration import Consumes
from cybexp_core.plugins import LoadedFilter

__all__ = ["ChangeWatcher", "inserts_pipeline"]

log = logging.getLogger(__name__)

#: Server error codes that mean "no change streams here" (not a replica set, not allowed).
_UNAVAILABLE = {40573, 13, 8000, 303, 20}
#: The resume token is no longer in the oplog, or is not valid: start from now.
_TOKEN_LOST = {260, 280, 286}
SAVE_TOKEN_EVERY = 5.0


def inserts_pipeline(filters: Sequence[LoadedFilter]) -> list[dict[str, Any]]:
    """A ``$match`` on the inserts of the documents ``filters`` consume, keeping only the
    fields that say which filter to wake, and the ``_id``."""
    kinds: list[dict[str, Any]] = []
    for flt in filters:
        for consumes in flt.info.consumes:
            kind: dict[str, Any] = {"fullDocument.itype": consumes.itype}
            if consumes.sub_type:
                kind["fullDocument.sub_type"] = consumes.sub_type
            if kind not in kinds:
                kinds.append(kind)
    return [
        {"$match": {"operationType": "insert", "$or": kinds}},
        {"$project": {"fullDocument.itype": 1, "fullDocument.sub_type": 1, "documentKey": 1}},
    ]


#: ``wake(filter id, the input, the document's _id)``: an input of that filter arrived.
Wake = Callable[[str, Consumes, Any], None]


class ChangeWatcher:
    """Calls ``wake`` when an input of a filter is inserted into ``collection``.

    ``mode`` is ``"stream"`` while the stream runs, ``"polling"`` when streams are
    unavailable or the stream is down (it is retried with back-off). ``following(True)``
    is called when a stream (re)starts, ``following(False)`` when it stops: in between,
    every insert is woken for.
    """

    def __init__(
        self,
        collection: Collection,
        state: Collection,
        filters: Sequence[LoadedFilter],
        wake: Wake,
        stop: threading.Event,
        following: Callable[[bool], None] | None = None,
    ) -> None:
        self.collection = collection
        self.state = state
        self.filters = list(filters)
        self.wake = wake
        self.stop = stop
        self.following = following or (lambda _streaming: None)
        self.mode = "polling"
        self.available = True
        self.events = 0
        self._key = f"stream:{collection.name}"
        self._thread: threading.Thread | None = None

    def start(self) -> ChangeWatcher:
        self._thread = threading.Thread(target=self._run, name="change-stream", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _targets(self, document: dict[str, Any]) -> list[tuple[str, Consumes]]:
        itype, sub_type = document.get("itype"), document.get("sub_type")
        return [
            (flt.info.id, c)
            for flt in self.filters
            for c in flt.info.consumes
            if c.itype == itype and (c.sub_type is None or c.sub_type == sub_type)
        ]

    def _saved_token(self) -> Any:
        found = self.state.find_one({"_id": self._key}, {"token": 1})
        return (found or {}).get("token")

    def _save_token(self, token: Any) -> None:
        self.state.update_one({"_id": self._key}, {"$set": {"token": token}}, upsert=True)

    def _run(self) -> None:
        backoff = Backoff(failure_cap=30.0)
        token: Any = None
        while not self.stop.is_set():
            try:
                token = self._saved_token() if token is None else token
                token = self._follow(token)
                backoff.worked()
            except OperationFailure as exc:
                if exc.code in _TOKEN_LOST and token is not None:
                    log.warning("change stream: resume token no longer valid; starting from now")
                    token = None
                    self.state.update_one({"_id": self._key}, {"$unset": {"token": ""}})
                    continue
                if exc.code in _UNAVAILABLE or "replica set" in str(exc):
                    self.available, self.mode = False, "polling"
                    self.following(False)
                    log.warning(
                        "change streams unavailable (%s); polling for new documents instead",
                        str(exc).split(",")[0][:200],
                    )
                    return
                self._stream_down(exc, backoff)
            except PyMongoError as exc:
                self._stream_down(exc, backoff)

    def _stream_down(self, exc: BaseException, backoff: Backoff) -> None:
        if self.mode == "stream":
            log.warning("change stream lost (%s); polling until it is back", type(exc).__name__)
        self.mode = "polling"
        self.following(False)
        self.stop.wait(backoff.failed())

    def _follow(self, token: Any) -> Any:
        """Follow the stream until stopped; returns the last resume token."""
        options: dict[str, Any] = {"max_await_time_ms": 500}
        if token is not None:
            options["resume_after"] = token
        saved_at, saved = time.monotonic(), token
        with self.collection.watch(inserts_pipeline(self.filters), **options) as stream:
            if self.mode != "stream":
                log.info("following the change stream of %s", self.collection.full_name)
            self.mode = "stream"
            self.following(True)
            while not self.stop.is_set() and stream.alive:
                change = stream.try_next()
                if change is not None:
                    self.events += 1
                    oid = (change.get("documentKey") or {}).get("_id")
                    for fid, consumes in self._targets(change.get("fullDocument") or {}):
                        self.wake(fid, consumes, oid)
                token = stream.resume_token or token
                if token != saved and time.monotonic() - saved_at >= SAVE_TOKEN_EVERY:
                    self._save_token(token)
                    saved_at, saved = time.monotonic(), token
        self.following(False)
        if token is not None and token != saved:
            self._save_token(token)
        return token
