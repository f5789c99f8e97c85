"""Reading input files into TAHOE raw documents (``cybexp-analytics ingest``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from attrs import frozen

from cybexp_core.errors import InputError
from cybexp_core.models import Raw

__all__ = ["MAX_CHUNK_BYTES", "RECEIVED", "BadLine", "check_keys", "read_file", "read_jsonl"]

#: Files larger than this are split at line boundaries into several raw documents.
MAX_CHUNK_BYTES = 4 * 1024 * 1024
#: A JSON line larger than this is refused (MongoDB's limit is 16 MiB per document).
MAX_LINE_BYTES = 15 * 1024 * 1024
MAX_DEPTH = 90
#: A split file's first line is copied into every part, up to this many characters.
MAX_HEADER_CHARS = 64 * 1024
#: The field the runner adds to each document it offers: when it was stored (epoch seconds).
RECEIVED = "_received"


@frozen
class BadLine:
    """An input line that was not stored, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


_INT64 = (-(2**63), 2**63 - 1)


def check_keys(value: Any, where: str = "data", depth: int = 0) -> None:
    """Refuse what MongoDB would read as an operator or cannot store: keys starting with
    ``$`` or holding NUL, integers beyond 64 bits, nesting deeper than it accepts."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InputError(f"{where}: integer {value} does not fit in 64 bits")
        return
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "\x00" in key:
                raise InputError(f"{where}: key {key!r} may not start with '$' or hold NUL")
            check_keys(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_keys(item, f"{where}[{index}]", depth + 1)


def read_jsonl(path: Path, sub_type: str, orgid: str, timezone: str) -> Iterator[Raw | BadLine]:
    """One raw document per non-blank line; each line must be a JSON object."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE_BYTES:
                yield BadLine(str(path), number, f"line is {len(line)} bytes; the limit is 15 MiB")
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield BadLine(str(path), number, f"not JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield BadLine(
                    str(path), number, f"a line must be a JSON object, not {type(value).__name__}"
                )
                continue
            try:
                check_keys(value)
                yield Raw(sub_type, value, orgid, timezone)
            except InputError as exc:
                yield BadLine(str(path), number, str(exc))


def _decode(raw: bytes) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        # Lossless: text.encode("latin-1") gives the original bytes back.
        return raw.decode("latin-1"), "latin-1"


def _chunks(text: str, limit: int) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = start + limit
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        yield text[start:end]
        start = end


def read_file(
    path: Path,
    sub_type: str,
    orgid: str,
    timezone: str,
    chunk_bytes: int | None = None,
    timestamp: float | None = None,
) -> Iterator[Raw]:
    """One raw document per file: ``data = {"data": <text>}`` (the original's shape).

    ``timestamp`` (when the file was fetched, epoch seconds) is added as
    ``data.timestamp`` for feeds whose lines carry no time of their own.

    A file that is not UTF-8 is decoded as latin-1 and ``data.encoding`` says
    so. A file over ``chunk_bytes`` is split at line boundaries into parts:
    ``{"data": chunk, "file": name, "part": k, "parts": n, "header": first line}``.
    """
    chunk_bytes = chunk_bytes or MAX_CHUNK_BYTES
    text, encoding = _decode(path.read_bytes())
    extra: dict[str, Any] = {"encoding": encoding} if encoding else {}
    if timestamp is not None:
        extra["timestamp"] = timestamp
    if len(text) <= chunk_bytes:
        yield Raw(sub_type, {"data": text, **extra}, orgid, timezone)
        return
    parts = list(_chunks(text, chunk_bytes))
    header = text.split("\n", 1)[0].rstrip("\r")[:MAX_HEADER_CHARS]
    for index, part in enumerate(parts, start=1):
        data = {
            "data": part,
            "file": path.name,
            "part": index,
            "parts": len(parts),
            "header": header,
            **extra,
        }
        yield Raw(sub_type, data, orgid, timezone)
