"""``ingest --format file``: one raw document per file, per part of a big file, or per message.

- A file within :data:`~cybexp_core.rawinput.MAX_CHUNK_BYTES` and
  :data:`~cybexp_core.rawinput.MAX_CHUNK_RECORDS` lines is one document,
  ``{"data": <text>}`` (the original's shape).
- A bigger text file is cut at line boundaries into parts,
  ``{"data": chunk, "file": name, "part": k, "parts": n, "header": first line}``.
- A bigger JSON array (a PhishTank JSON dump) is cut between records, so that
  every part is itself a JSON array of whole records (``header`` is ``[``);
  it is read as a stream, record by record.
- A bigger XML dump of ``<entry>`` elements (PhishTank's) is cut between entries, each
  part an ``<entries>`` document (``header`` is ``<entries>``).
- An mbox is one document per message (:mod:`cybexp_core.mbox`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cybexp_core import rawinput
from cybexp_core.input_streams import DECOMPRESS_ERRORS, STDIN, open_input
from cybexp_core.jsonstream import Broken, json_elements
from cybexp_core.mbox import is_mbox, mbox_messages
from cybexp_core.models import Raw
from cybexp_core.rawinput import BadLine, decode_text

__all__ = ["MAX_HEADER_CHARS", "read_file"]

#: A split file's first line is copied into every part, up to this many characters.
MAX_HEADER_CHARS = 64 * 1024
#: One ``<entry>`` of an XML dump (entries do not nest).
_ENTRY = re.compile(r"<entry>.*?</entry>", re.S)


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``stream``: what was read to decide, put back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = memoryview(head), stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count] = self.head[:count]
            self.head = self.head[count:]
            return count
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _cuts(text: str, max_chars: int, max_lines: int) -> list[tuple[int, int]]:
    """``(start, end)`` of parts of at most ``max_chars`` and ``max_lines``, cut after a newline."""
    spans, start = [], 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        nth = start - 1
        for _ in range(max_lines):
            nth = text.find("\n", nth + 1, end)
            if nth == -1:
                break
        if nth != -1 and nth + 1 < end:
            end = nth + 1
        elif end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut >= start else end
        spans.append((start, end))
        start = end
    return spans


def _array_parts(
    stream: BinaryIO, name: str, max_chars: int, max_records: int
) -> Iterator[str | BadLine]:
    """The records of a JSON array, regrouped as JSON arrays of at most the limits."""
    texts: list[str] = []
    size = 0
    reader = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")  # type: ignore[type-var]
    for item in json_elements(reader):
        if isinstance(item, Broken):
            yield BadLine(name, item.line, f"{item.reason}; the rest of the file is not read")
            break
        if texts and (size + len(item.text) > max_chars or len(texts) >= max_records):
            yield "[\n" + ",\n".join(texts) + "\n]\n"
            texts, size = [], 0
        texts.append(item.text)
        size += len(item.text) + 2
    if texts:
        yield "[\n" + ",\n".join(texts) + "\n]\n"


def _xml_parts(
    text: str, encoding: str | None, chunk_bytes: int
) -> Iterator[tuple[str, str | None, str]]:
    """An XML dump of ``<entry>`` elements (PhishTank's) regrouped as ``<entries>`` parts."""
    entries = [match.group() for match in _ENTRY.finditer(text)]
    limit = rawinput.MAX_CHUNK_RECORDS
    if len(text) <= chunk_bytes and len(entries) <= limit:
        yield text, encoding, ""
        return
    del text
    part: list[str] = []
    size = 0
    for entry in entries:
        if part and (size + len(entry) > chunk_bytes or len(part) >= limit):
            yield "<entries>\n" + "\n".join(part) + "\n</entries>\n", encoding, "<entries>"
            part, size = [], 0
        part.append(entry)
        size += len(entry) + 1
    if part:
        yield "<entries>\n" + "\n".join(part) + "\n</entries>\n", encoding, "<entries>"


def _parts(
    stream: BinaryIO, name: str, chunk_bytes: int
) -> Iterator[tuple[str, str | None, str] | BadLine]:
    """``(text, encoding, header)`` of each part, or what was not read."""
    head = stream.read(chunk_bytes + 1)
    small = len(head) <= chunk_bytes
    if head.lstrip()[:1] == b"[":
        if small:
            text, encoding = decode_text(head)
            count = sum(not isinstance(e, Broken) for e in json_elements(io.StringIO(text)))
            if count <= rawinput.MAX_CHUNK_RECORDS:
                yield text, encoding, ""
                return
        full = _Prefixed(head, stream)
        limit = rawinput.MAX_CHUNK_RECORDS
        for part in _array_parts(io.BufferedReader(full), name, chunk_bytes, limit):  # type: ignore[arg-type]
            yield part if isinstance(part, BadLine) else (part, None, "[")
        return
    text, encoding = decode_text(head + stream.read())
    del head
    if text.lstrip().startswith("<") and _ENTRY.search(text):
        yield from _xml_parts(text, encoding, chunk_bytes)
        return
    spans = _cuts(text, chunk_bytes, rawinput.MAX_CHUNK_RECORDS)
    header = text.split("\n", 1)[0].rstrip("\r")[:MAX_HEADER_CHARS]
    for start, end in spans:
        yield text[start:end], encoding, header if len(spans) > 1 else ""


def read_file(
    path: Path | str,
    sub_type: str,
    orgid: str,
    timezone: str,
    chunk_bytes: int | None = None,
    timestamp: float | None = None,
) -> Iterator[Raw | BadLine]:
    """The raw documents of one file (``-``: standard input); see the module's docstring.

    ``timestamp`` (when the file was fetched, epoch seconds) is added as
    ``data.timestamp`` for feeds whose lines carry no time of their own. A file
    that is not UTF-8 is decoded as latin-1 and ``data.encoding`` says so.

    :raises InputError: If the file is not text or a known compression.
    """
    chunk_bytes = chunk_bytes or rawinput.MAX_CHUNK_BYTES
    name = "standard input" if str(path) == STDIN else Path(path).name
    extra: dict[str, Any] = {} if timestamp is None else {"timestamp": timestamp}
    with open_input(path) as stream:
        try:
            if is_mbox(stream.peek(1024)):  # type: ignore[attr-defined]
                yield from _messages(stream, name, sub_type, orgid, timezone, extra)
                return
            parts = list(_parts(stream, name, chunk_bytes))
        except DECOMPRESS_ERRORS as exc:
            yield BadLine(name, 0, f"the compressed file is damaged or truncated: {exc}")
            return
    texts = [p for p in parts if not isinstance(p, BadLine)]
    for index, part in enumerate(parts, start=1):
        if isinstance(part, BadLine):
            yield part
            continue
        text, encoding, header = part
        data: dict[str, Any] = {"data": text}
        if len(texts) > 1:
            data.update(file=name, part=index, parts=len(texts), header=header)
        if encoding:
            data["encoding"] = encoding
        yield Raw(sub_type, {**data, **extra}, orgid, timezone)


def _messages(
    stream: BinaryIO, name: str, sub_type: str, orgid: str, timezone: str, extra: dict[str, Any]
) -> Iterator[Raw | BadLine]:
    for number, message in enumerate(mbox_messages(stream), start=1):
        if len(message) > rawinput.MAX_LINE_BYTES:
            yield BadLine(
                name, number, f"message {number} is {len(message)} bytes; the limit is 15 MiB"
            )
            continue
        text, encoding = decode_text(message)
        data: dict[str, Any] = {"data": text, **({"encoding": encoding} if encoding else {})}
        yield Raw(sub_type, {**data, **extra}, orgid, timezone)
