"""One event in, one ``correlation`` session per indicator out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cybexp_core import FilterResult, InputError, Problem, Session
from cybexp_filter_correlation.indicators import event_indicators
from cybexp_filter_correlation.options import Options
from cybexp_filter_correlation.stoplist import stopped

__all__ = ["SESSION_SUB_TYPE", "correlate"]

#: Sub_type of the sessions this filter makes (ThreatRank walks them).
SESSION_SUB_TYPE = "correlation"


def _timestamp(document: Mapping[str, Any]) -> float:
    value = document.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(
            f"correlation: the event has no usable timestamp, got {str(value)[:40]!r}",
            field="timestamp",
        )
    return float(value)


def correlate(document: Mapping[str, Any], options: Options) -> FilterResult | None:
    """A ``correlation`` session per indicator of the event, holding the event's hash.

    The backend merges sessions with the same indicator (``_ref`` union,
    earliest ``start_time``, latest ``end_time``), so every event that holds
    the indicator ends up in one session, whatever the order of arrival.

    :raises InputError: If the document is an event without a hash or a timestamp.
    """
    if document.get("itype") != "event":
        return None
    event_hash = document.get("_hash")
    if not isinstance(event_hash, str) or not event_hash:
        raise InputError("correlation: the event has no _hash", field="_hash")
    timestamp = _timestamp(document)
    found, problems = event_indicators(document, options.attributes, options.objects)
    kept = [indicator for indicator in found if stopped(indicator, options) is None]
    limit = options.max_indicators_per_event
    if len(kept) > limit:
        problems.append(
            Problem(
                "indicators",
                f"{len(kept)} indicators; only the first {limit} are correlated "
                "(setting max_indicators_per_event)",
            )
        )
        kept = kept[:limit]
    sessions = [
        Session(
            SESSION_SUB_TYPE,
            [indicator],
            events=[event_hash],
            start_time=timestamp,
            end_time=timestamp,
            max_events=options.max_events_per_indicator,
        )
        for indicator in kept
    ]
    return FilterResult(instances=sessions, problems=problems)
