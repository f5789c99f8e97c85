"""Reading input into TAHOE raw documents (``cybexp-analytics ingest``).

Every reader takes a path or ``-`` (standard input), compressed or not
(:mod:`cybexp_core.input_streams`), and yields :class:`~cybexp_core.models.Raw`
documents and a :class:`BadLine` for what it could not store.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from cybexp_core.errors import InputError
from cybexp_core.filesplit import MAX_HEADER_CHARS, read_file
from cybexp_core.input_streams import DECOMPRESS_ERRORS, STDIN, open_input
from cybexp_core.jsonstream import Broken, json_elements
from cybexp_core.models import Raw
from cybexp_core.rawinput import (
    MAX_CHUNK_BYTES,
    MAX_CHUNK_RECORDS,
    MAX_LINE_BYTES,
    BadLine,
    check_keys,
)

__all__ = [
    "MAX_CHUNK_BYTES",
    "MAX_CHUNK_RECORDS",
    "MAX_HEADER_CHARS",
    "MAX_LINE_BYTES",
    "RECEIVED",
    "BadLine",
    "check_keys",
    "read_file",
    "read_json",
    "read_jsonl",
]

#: The field the runner adds to each document it offers: when it was stored (epoch seconds).
RECEIVED = "_received"


def _name(path: Path | str) -> str:
    return "standard input" if str(path) == STDIN else str(path)


def _raw(value: Any, sub_type: str, orgid: str, timezone: str, kind: str) -> Raw | str:
    """A raw document of ``value``, or why it cannot be one."""
    if not isinstance(value, dict):
        return f"{kind} must be a JSON object, not {type(value).__name__}"
    try:
        check_keys(value)
    except InputError as exc:
        return str(exc)
    return Raw(sub_type, value, orgid, timezone)


def _line_problem(line: bytes, last: bool, exc: Exception) -> str:
    if b"\x00" in line:
        return "NUL bytes in the line (the writer stopped mid-write, e.g. a sensor that died)"
    if last:
        return f"truncated last line (no newline at the end of the file): {exc}"
    return f"not JSON: {exc}"


def read_jsonl(
    path: Path | str, sub_type: str, orgid: str, timezone: str
) -> Iterator[Raw | BadLine]:
    """One raw document per non-blank line; each line must be a JSON object."""
    name, number = _name(path), 0
    with open_input(path) as stream:
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                if len(line) > MAX_LINE_BYTES:
                    yield BadLine(name, number, f"line is {len(line)} bytes; the limit is 15 MiB")
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    last = not line.endswith(b"\n")
                    yield BadLine(name, number, _line_problem(line, last, exc))
                    continue
                made = _raw(value, sub_type, orgid, timezone, "a line")
                yield made if isinstance(made, Raw) else BadLine(name, number, made)
        except DECOMPRESS_ERRORS as exc:
            yield BadLine(name, number + 1, f"the compressed file is damaged or truncated: {exc}")


def read_json(
    path: Path | str, sub_type: str, orgid: str, timezone: str
) -> Iterator[Raw | BadLine]:
    """One raw document per JSON document of the file: the file holds one document
    (pretty-printed, e.g. a Wazuh alert), several one after another, or a JSON array
    of them (one raw per element). Read as a stream: memory does not grow with the file."""
    name, index = _name(path), 0
    with open_input(path) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")  # type: ignore[type-var]
        try:
            for item in json_elements(text):
                if isinstance(item, Broken):
                    yield BadLine(
                        name, item.line, f"{item.reason}; the rest of the file is not read"
                    )
                    return
                index += 1
                if len(item.text) > MAX_LINE_BYTES:
                    yield BadLine(name, item.line, f"document {index} is over 15 MiB")
                    continue
                kind = "an array element" if item.in_array else "a document"
                made = _raw(item.value, sub_type, orgid, timezone, kind)
                yield made if isinstance(made, Raw) else BadLine(name, item.line, made)
        except DECOMPRESS_ERRORS as exc:
            yield BadLine(name, 0, f"the compressed file is damaged or truncated: {exc}")
