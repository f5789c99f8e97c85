"""An ``openphish_feed`` raw document: the feed text, or one commercial JSON record."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from cybexp_core import Event, FilterResult, InputError, Problem
from cybexp_core.builders import sighting_event

from cybexp_filter_openphish.commercial import record_sighting
from cybexp_filter_openphish.urls import url_attributes

#: Longest reason kept in a problem.
MAX_TEXT = 300


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def fetch_time(data: Mapping[str, Any]) -> float:
    """``data.timestamp``: when the feed was fetched (community lines carry no time)."""
    value = data.get("timestamp")
    if value is None:
        raise InputError(
            "openphish_feed: the community feed has no times; store the fetch time as "
            "data.timestamp (epoch seconds) with the feed text, so that events are "
            "reproducible (the processing time is never used)",
            field="data.timestamp",
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(
            f"openphish_feed: data.timestamp must be epoch seconds, got {str(value)[:60]!r}",
            field="data.timestamp",
        )
    return float(value)


def _record(line: str) -> Mapping[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"a JSON line must be an object, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any]) -> str:
    text: str = data["data"]
    if data.get("encoding") == "latin-1":  # ingest's fallback for a file that is not UTF-8
        text = text.encode("latin-1").decode("utf-8", "replace")
    return text.removeprefix("\ufeff")


def _feed_text(data: Mapping[str, Any], orgid: str) -> FilterResult:
    events: dict[str, Event] = {}
    problems: list[Problem] = []
    part = f"part {data['part']} " if "part" in data else ""
    for number, line in enumerate(_text(data).split("\n"), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"{part}line {number}"
        timestamp = None if entry.startswith(("{", "[")) else fetch_time(data)
        try:
            if "\ufffd" in entry:
                raise InputError("the line is not valid UTF-8")
            if timestamp is None:
                event, notes = record_sighting(_record(entry), orgid)
            else:
                url, host = url_attributes(entry)
                event, notes = sighting_event(
                    [url], orgid, timestamp, category="malicious", context="malicious",
                    extra=[host],
                ), []
        except InputError as exc:
            problems.append(Problem(where, _short(str(exc))))
            continue
        problems.extend(Problem(where, _short(note)) for note in notes)
        events[event._hash] = event
    if not events and problems:
        raise InputError(
            f"openphish_feed: none of {len(problems)} entries is usable; first: "
            + "; ".join(f"{p.where}: {p.reason}" for p in problems[:3])
        )
    return FilterResult(instances=list(events.values()), problems=problems)


def parse_feed(document: Mapping[str, Any]) -> FilterResult:
    """Malicious sightings of the URLs in an OpenPhish feed document.

    ``data`` is either ``{"data": <feed text>, "timestamp": <fetch time>}``
    (``ingest --format file``; lines are URLs or commercial JSON records) or
    one commercial record (``ingest --format jsonl``).

    :raises InputError: If the document has neither shape, community lines
        have no fetch time, or no entry is usable.
    """
    data = document.get("data")
    orgid = document.get("orgid")
    if not isinstance(orgid, str):
        raise InputError("openphish_feed: the raw document has no orgid", field="orgid")
    if isinstance(data, Mapping) and isinstance(data.get("data"), str):
        return _feed_text(data, orgid)
    if isinstance(data, Mapping) and "url" in data:
        try:
            event, notes = record_sighting(data, orgid)
        except InputError as exc:
            raise InputError(f"openphish_feed record: {exc}", field="data") from None
        return FilterResult(instances=[event], problems=[Problem("record", n) for n in notes])
    raise InputError(
        "openphish_feed: data must hold the feed text in 'data' or be one JSON record with 'url'",
        field="data",
    )
