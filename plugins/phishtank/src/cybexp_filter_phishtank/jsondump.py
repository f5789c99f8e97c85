"""PhishTank's JSON dump (an array of records) and JSON lines, read record by record.

A record that does not decode (a truncated file, a dump cut into parts by
``ingest``) is reported; the reader then resumes at the next record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cybexp_core import InputError

_DECODER = json.JSONDecoder()
_SKIP = " \t\r\n,"


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and ("url" in value or "phish_id" in value)


def _resume(text: str, start: int) -> int:
    """Position of the next ``{`` that decodes to a record (nested details are skipped)."""
    pos = text.find("{", start)
    while pos != -1:
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if _is_record(value):
            return pos
        pos = text.find("{", end)
    return len(text)


def array_records(text: str, *, opened: bool) -> Iterator[tuple[str, Any]]:
    """``(where, record or InputError)`` for each element of a JSON array.

    :param opened: The text continues an array begun in an earlier part, so
        it does not start with ``[``.
    """
    pos, size, index = 0, len(text), 0
    line, counted = 1, 0

    def where(at: int) -> str:
        nonlocal line, counted
        line += text.count("\n", counted, at)
        counted = at
        return f"record {index} (line {line})"

    while pos < size and text[pos] in _SKIP:
        pos += 1
    if not opened:
        if not text.startswith("[", pos):
            yield "line 1", InputError("a JSON dump must be an array of records")
            return
        pos += 1
    closed = False
    while True:
        while pos < size and text[pos] in _SKIP:
            pos += 1
        if pos >= size:
            break
        if text[pos] == "]":
            closed = True
            break
        index += 1
        if text[pos] != "{":
            yield (
                where(pos),
                InputError(
                    "not a record (the text before it belongs to a record "
                    "cut off in an earlier part, or is not JSON)"
                ),
            )
            pos = _resume(text, pos)
            continue
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except ValueError as exc:
            yield where(pos), InputError(f"truncated or invalid JSON: {exc}")
            pos = _resume(text, pos + 1)
            continue
        yield where(pos), value if isinstance(value, dict) else InputError("not an object")
        pos = end
    if not closed and index == 0 and not opened:
        yield "end", InputError("the JSON array holds no record and is not closed")


def json_lines(lines: list[str]) -> Iterator[tuple[str, Any]]:
    """``(where, record or InputError)`` for each non-blank line of JSON lines."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield f"line {number}", InputError(f"invalid JSON: {exc}")
            continue
        yield f"line {number}", value if isinstance(value, dict) else InputError("not an object")
