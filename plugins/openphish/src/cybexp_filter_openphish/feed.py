"""An ``openphish_feed`` raw document: the feed text, or one commercial JSON record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cybexp_core import FilterResult, InputError
from cybexp_core.builders import Entries
from cybexp_core.inputs import dispatch_feed, file_text, file_timestamp
from cybexp_filter_openphish.commercial import record_sighting
from cybexp_filter_openphish.community import url_sighting

#: Lines one document may hold (``ingest`` makes parts of at most 5,000), so that
#: parsing it stays well under 300 MB.
MAX_LINES = 10_000
#: What needs ``data.timestamp``, for the message when it is missing.
COMMUNITY = "openphish_feed: the community feed (a URL a line)"


def _record(line: str) -> Mapping[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"a JSON line must be an object, not {type(value).__name__}")
    return value


def _feed_text(data: Mapping[str, Any], orgid: str, received: object) -> FilterResult:
    lines = data["data"].count("\n")
    if lines > MAX_LINES:
        raise InputError(
            f"openphish_feed: {lines} lines in one document; the limit is {MAX_LINES}: store "
            "the feed with `cybexp-analytics ingest --format file`, which cuts it into parts"
        )
    found = Entries.of_file("openphish_feed", data)
    fetched: float | None = None
    for number, line in enumerate(file_text(data).split("\n"), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"line {number}"
        commercial = entry.startswith(("{", "["))
        if not commercial and fetched is None:  # only community lines need the fetch time
            fetched = file_timestamp(data, COMMUNITY, received)
        with found.entry(where):
            if "\ufffd" in entry:
                raise InputError("the line is not valid UTF-8")
            if commercial:
                event, notes = record_sighting(_record(entry), orgid)
            else:
                event, notes = url_sighting(entry, orgid, fetched), []
            found.add(event, where, notes)
    return found.result()


def parse_feed(document: Mapping[str, Any]) -> FilterResult:
    """Malicious sightings of the URLs in an OpenPhish feed document.

    ``data`` is either ``{"data": <feed text>, "timestamp": <fetch time>}``
    (``ingest --format file``; lines are URLs or commercial JSON records) or
    one commercial record (``ingest --format jsonl``).

    :raises InputError: If the document has neither shape, community lines
        have no fetch time, or no entry is usable.
    """
    return dispatch_feed(document, "openphish_feed", text=_feed_text, record=record_sighting)
