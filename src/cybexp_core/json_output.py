"""JSON as every ``--json`` option prints it: indented, times in ISO 8601 with ``T``."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

__all__ = ["to_json"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)  # ObjectId, Decimal128, bytes...


def to_json(value: Any) -> str:
    """``value`` as indented JSON; datetimes as ISO 8601 (``2026-12-02T13:37:45+00:00``)."""
    return json.dumps(value, indent=2, default=_plain)
