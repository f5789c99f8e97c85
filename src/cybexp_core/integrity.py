"""Checks of raw documents other writers stored, before a filter sees them.

Raw documents and instances share one collection and one ``_hash``
namespace. A raw document stored with a ``_hash`` that is not its own (by a
bug, or by an organisation that wants to suppress or corrupt somebody else's
indicator) is failed with :data:`HASH_MISMATCH` before it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core.errors import InputError
from cybexp_core.hashing import canonical, sha256_hex

__all__ = ["HASH_MISMATCH", "HashMismatch", "raw_hash", "verify_raw"]

#: The error type of a failure record of a raw document whose ``_hash`` is not its own.
HASH_MISMATCH = "HashMismatch"


class HashMismatch(InputError):
    """A raw document's stored ``_hash`` does not match its content."""


def raw_hash(sub_type: str, data: Any) -> str:
    """TAHOE's raw hash, ``sha256("raw" + sub_type + canonical(data))`` (orgid not hashed)."""
    return sha256_hex("raw" + sub_type + canonical(data))


def verify_raw(doc: Mapping[str, Any]) -> int:
    """Check that ``doc`` (a stored raw document) has the TAHOE hash of its ``sub_type`` and
    ``data``; returns the length of its canonical JSON (a measure of its size).

    :raises HashMismatch: with the reason, when it has not.
    """
    stored, sub_type = doc.get("_hash"), doc.get("sub_type")
    if not isinstance(stored, str) or not isinstance(sub_type, str):
        raise HashMismatch("the raw document has no str _hash and sub_type", field="_hash")
    try:
        canon = canonical(doc.get("data"))
    except (TypeError, ValueError) as exc:
        raise HashMismatch(
            f"data is not JSON, its _hash cannot be checked: {exc}", field="data"
        ) from exc
    expected = sha256_hex("raw" + sub_type + canon)
    if stored != expected:
        raise HashMismatch(
            f"the stored _hash does not match the document's content (sha256 of 'raw' + "
            f"sub_type + canonical(data) is {expected}); not processed",
            field="_hash",
        )
    return len(canon)
