"""ObjectIds as points of a 96-bit line, for ``_id`` ranges with both bounds."""

from __future__ import annotations

import time

from bson import ObjectId

__all__ = ["OID_MAX", "OID_MIN", "TICK", "from_int", "seconds", "to_int", "upper_at"]

#: One second of ObjectId time on the 96-bit line (the timestamp is the top 32 bits).
TICK = 1 << 64
OID_MIN = ObjectId(b"\x00" * 12)
OID_MAX = ObjectId(b"\xff" * 12)
_TOP = (1 << 96) - 1


def to_int(oid: ObjectId) -> int:
    return int.from_bytes(oid.binary, "big")


def from_int(value: int) -> ObjectId:
    return ObjectId(min(max(value, 0), _TOP).to_bytes(12, "big"))


def upper_at(epoch: float) -> ObjectId:
    """The greatest ObjectId made at or before ``epoch`` (whole seconds, as ObjectIds)."""
    return from_int((int(epoch) + 1) * TICK - 1)


def seconds(oid: ObjectId) -> float:
    """Age of ``oid`` in seconds, from its embedded time."""
    return max(0.0, time.time() - oid.generation_time.timestamp())
