"""What a change stream saw arrive, so a recent verification recounts only those windows.

A recent verification (``Runner.verify(recent_only=True)``, every few seconds in the
daemon) recounts the committed windows of the last ``runner.lookback_seconds`` of
``_id`` time to find documents that appeared behind a checkpoint. While a change stream
runs without a break, every insert is seen: a document can only have appeared behind
the checkpoint in a window holding an ``_id`` the stream reported. So per queue this
keeps the oldest ``_id`` seen since that queue's last recent verification began, and the
verification recounts from the window holding it (never before the lookback), or only
the invalidated windows when nothing arrived: a constant cost instead of one that grows
with the insert rate times the lookback.

Where that is not known (the first verification, polling mode, a stream that was down
or started without a resume token since), :meth:`Arrivals.take` says so and the whole
lookback is recounted, as without a stream.
"""

from __future__ import annotations

import threading

from bson import ObjectId

__all__ = ["Arrivals"]


class Arrivals:
    """Per queue key, the oldest ``_id`` a change stream saw inserted since it was taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._oldest: dict[str, ObjectId] = {}
        self._breaks = 0
        self._streaming = False
        #: Per key, the number of breaks when it was last taken.
        self._taken: dict[str, int] = {}

    def seen(self, key: str, oid: ObjectId) -> None:
        """A document of ``key``'s input with ``_id`` ``oid`` was inserted."""
        with self._lock:
            known = self._oldest.get(key)
            if known is None or oid < known:
                self._oldest[key] = oid

    def following(self, streaming: bool) -> None:
        """The stream now delivers every insert (``True``), or may have missed some."""
        with self._lock:
            if not streaming or not self._streaming:
                self._breaks += 1
            self._streaming = streaming

    def take(self, key: str) -> tuple[bool, ObjectId | None]:
        """``(known, oldest)``: whether every insert for ``key`` since the last take was
        seen, and the oldest of them (``None``: none arrived); then starts afresh."""
        with self._lock:
            known = self._streaming and self._taken.get(key) == self._breaks
            self._taken[key] = self._breaks
            return known, self._oldest.pop(key, None)

    def put_back(self, key: str, oid: ObjectId) -> None:
        """A verification left ``(oid, ...]`` of ``key`` unchecked (a lease held it): the
        next one recounts from there."""
        self.seen(key, oid)
