"""A literal, unoptimised statement of TAHOE's hash rules (tahoe/misc.py canonical(),
instance.py _unique), used as the oracle for the fast models."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(val: Any) -> str:
    if isinstance(val, dict):
        return json.dumps({k: canonical(v) for k, v in val.items()}, sort_keys=True)
    if isinstance(val, list):
        return json.dumps(sorted({canonical(v) for v in val}))
    if isinstance(val, str):
        return json.dumps(val.strip())
    return json.dumps(val)


def instance_hash(itype: str, sub_type: str, data: Any) -> str:
    return hashlib.sha256((itype + sub_type + canonical(data)).encode()).hexdigest()


def event_hash(sub_type: str, orgid: str, timestamp: float, data: Any) -> str:
    unique = "event" + sub_type + orgid + str(float(timestamp)) + canonical(data)
    return hashlib.sha256(unique.encode()).hexdigest()
