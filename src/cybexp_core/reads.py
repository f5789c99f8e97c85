"""Chunked reads of the instance collection by hash: only indexed ``$in`` lists, bounded.

Part of the API for plugin commands (``docs/plugins.md``). ``collection`` is
the archive's instance collection (``Archive.collection``, a pymongo
``Collection``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pymongo.collection import Collection

__all__ = ["CHUNK", "chunked", "find_by_hashes", "ref_sizes"]

#: Most hashes in one ``$in`` list on ``_hash``.
CHUNK = 100


def chunked(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``."""
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def find_by_hashes(
    collection: Collection,
    hashes: Iterable[str],
    projection: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Documents whose ``_hash`` is in ``hashes`` (chunked ``$in`` on the unique index)."""
    for chunk in chunked(dict.fromkeys(hashes)):
        yield from collection.find({"_hash": {"$in": chunk}, **(extra or {})}, dict(projection))


def ref_sizes(collection: Collection, hashes: Iterable[str]) -> dict[str, int]:
    """Length of the ``_ref`` of each document, without reading the arrays."""
    sizes: dict[str, int] = {}
    for chunk in chunked(dict.fromkeys(hashes)):
        pipeline = [
            {"$match": {"_hash": {"$in": chunk}}},
            {"$project": {"_id": 0, "_hash": 1, "n": {"$size": {"$ifNull": ["$_ref", []]}}}},
        ]
        for doc in collection.aggregate(pipeline):
            sizes[doc["_hash"]] = int(doc["n"])
    return sizes
