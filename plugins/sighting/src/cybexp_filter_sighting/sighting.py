"""A ``sighting`` raw document: key/value indicators seen at one time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cybexp_core import CATEGORIES, Event, FilterResult, InputError, Problem
from cybexp_core.builders import sighting_event
from cybexp_core.inputs import data_object, orgid_of
from cybexp_filter_sighting.indicators import indicator

#: Keys of ``data`` that describe the sighting instead of naming an indicator.
RESERVED = ("timestamp", "category", "context")


def _timestamp(data: Mapping[str, Any]) -> float:
    if "timestamp" not in data:
        raise InputError(
            "sighting: data.timestamp is missing; give the time of the sighting in epoch "
            "seconds (the processing time is never used, so that reprocessing is reproducible)",
            field="data.timestamp",
        )
    value = data["timestamp"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(
            f"sighting: data.timestamp must be epoch seconds, got {repr(value)[:60]}",
            field="data.timestamp",
        )
    return float(value)


def _label(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "unknown")
    if value not in CATEGORIES:
        raise InputError(
            f"sighting: data.{name} must be one of {', '.join(CATEGORIES)}, got {repr(value)[:60]}",
            field=f"data.{name}",
        )
    return str(value)


def parse_sighting(document: Mapping[str, Any]) -> FilterResult:
    """One ``sighting`` event per indicator key of ``document["data"]``.

    Bad keys are reported as problems and make nothing; the good keys of the
    same document are processed.

    :raises InputError: If ``data`` is not an object, the timestamp, category
        or context is missing or invalid, or no key is a valid indicator.
    """
    data = data_object(document, "sighting", "an object of indicator key/value pairs")
    orgid = orgid_of(document, "sighting")
    timestamp = _timestamp(data)
    category, context = _label(data, "category"), _label(data, "context")
    events: list[Event] = []
    problems: list[Problem] = []
    for key, value in data.items():
        if key in RESERVED:
            continue
        try:
            attribute, extra = indicator(key, value)
        except InputError as exc:
            problems.append(Problem(f"data.{key}", str(exc)))
            continue
        events.append(
            sighting_event(
                [attribute], orgid, timestamp, category=category, context=context, extra=extra
            )
        )
    if not events:
        reasons = "; ".join(p.reason for p in problems[:5])
        raise InputError(
            "sighting: no valid indicator in data"
            + (f": {reasons}" if reasons else " (only timestamp/category/context)"),
            field="data",
        )
    return FilterResult(instances=events, problems=problems)
