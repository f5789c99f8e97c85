"""A ``phishtank_feed`` raw document: a dump's text (CSV, JSON, URL list) or one JSON record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cybexp_core import Event, FilterResult, InputError
from cybexp_core.builders import Entries, sighting_event
from cybexp_core.inputs import dispatch_feed, file_text, file_timestamp
from cybexp_filter_phishtank.csvdump import csv_rows, is_header
from cybexp_filter_phishtank.jsondump import array_records, json_lines
from cybexp_filter_phishtank.record import phish_sighting, phish_url
from cybexp_filter_phishtank.xmldump import is_xml, xml_records

#: Rows (lines, JSON records, XML entries) one document may hold: ``ingest`` makes parts
#: of at most 5,000 (``cybexp_core.rawinput.MAX_CHUNK_RECORDS``), so only a document
#: inserted otherwise reaches this; parsing it stays well under 300 MB.
MAX_ROWS = 10_000
#: What needs ``data.timestamp``, for the message when it is missing.
URL_LIST = "phishtank_feed: a bare URL list"


def _url_list(
    lines: list[str], data: Mapping[str, Any], orgid: str, received: object
) -> Iterator[tuple[str, Any]]:
    """Bare URL list (the original's only format): one malicious sighting per URL."""
    timestamp: float | None = None
    for number, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        timestamp = file_timestamp(data, URL_LIST, received) if timestamp is None else timestamp
        try:
            url, host = phish_url(entry)
            yield (
                f"line {number}",
                sighting_event(
                    [url], orgid, timestamp, category="malicious", context="malicious", extra=[host]
                ),
            )
        except InputError as exc:
            yield f"line {number}", exc


def _first_line(data: Mapping[str, Any], text: str) -> str:
    """The file's first line: it tells the format (a later part has it in ``data.header``)."""
    if data.get("part", 1) == 1:
        return text.lstrip().split("\n", 1)[0].strip()
    return file_text({**data, "data": str(data.get("header") or "")}).strip()


def _entries(data: Mapping[str, Any], orgid: str, received: object) -> Iterator[tuple[str, Any]]:
    """``(where, record dict | Event | InputError)`` for each entry of the text, by format."""
    text = file_text(data)
    first = _first_line(data, text)
    if is_xml(first):
        yield from xml_records(text)
        return
    if first.startswith("["):
        # A part cut between records by ingest is a whole array; one cut by bytes is not.
        yield from array_records(text, opened=not text.lstrip().startswith("["))
        return
    lines = text.split("\n")
    if data.get("encoding") == "latin-1":
        for number, line in enumerate(lines, start=1):
            if "\ufffd" in line:  # the bytes of this line are not UTF-8: skip it, say why
                lines[number - 1] = ""
                yield f"line {number}", InputError("the line is not valid UTF-8")
    if first.startswith("{"):
        yield from json_lines(lines)
    elif is_header(first):
        for number, row in csv_rows(lines, first):
            yield f"line {number}", row
    else:
        yield from _url_list(lines, data, orgid, received)


def _check_size(text: str) -> None:
    """Refuse a document with more rows than one is parsed with in bounded memory."""
    rows = max(text.count("\n"), text.count('"url"'), text.count("<entry>"))
    if rows > MAX_ROWS:
        raise InputError(
            f"phishtank_feed: about {rows} rows in one document; the limit is {MAX_ROWS} "
            "(~7 KB of memory each while parsed): store the dump with "
            "`cybexp-analytics ingest --format file`, which cuts it into parts"
        )


def _feed_text(data: Mapping[str, Any], orgid: str, received: object) -> FilterResult:
    _check_size(data["data"])
    found = Entries.of_file("phishtank_feed", data)
    damaged = data.get("encoding") == "latin-1"
    for where, entry in _entries(data, orgid, received):
        with found.entry(where):
            if isinstance(entry, InputError):
                raise entry
            if (
                damaged
                and isinstance(entry, dict)
                and any("\ufffd" in str(v) for v in entry.values())
            ):
                raise InputError("the row is not valid UTF-8")
            event, notes = (entry, []) if isinstance(entry, Event) else phish_sighting(entry, orgid)
            found.add(event, where, notes)
    return found.result()


def parse_feed(document: Mapping[str, Any]) -> FilterResult:
    """Sightings of the phishes in a PhishTank document.

    ``data`` is either ``{"data": <dump text>, ...}`` (``ingest --format
    file``: a CSV dump, a JSON dump, JSON lines or a bare URL list, which also
    needs ``timestamp``) or one JSON record (``ingest --format jsonl``).

    :raises InputError: If the document has neither shape or no entry is usable.
    """
    return dispatch_feed(
        document,
        "phishtank_feed",
        text=_feed_text,
        record=phish_sighting,
        record_keys=("url", "phish_id"),
        text_name="the dump text",
    )
