"""JSON documents read one by one from a stream: a JSON array, one document, or several.

Memory stays flat: the stream is read in blocks and each element is decoded on
its own (``json.JSONDecoder.raw_decode``), so a PhishTank dump of tens of MB is
never one string in memory. Each element comes with its exact source text, so
a dump can be cut into parts that are valid JSON arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from attrs import frozen

__all__ = ["Broken", "Element", "json_elements"]

BLOCK_CHARS = 1 << 20
#: An element larger than this is refused (MongoDB's limit is 16 MiB per document).
MAX_ELEMENT_CHARS = 15 * 1024 * 1024
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


@frozen
class Element:
    """One top-level JSON value (or one element of a top-level array)."""

    value: Any
    text: str
    line: int
    in_array: bool


@frozen
class Broken:
    """Where reading stopped, and why; nothing after it is read."""

    line: int
    reason: str


class _Buffer:
    def __init__(self, stream: IO[str]) -> None:
        self.stream, self.text, self.pos, self.line, self.eof = stream, "", 0, 1, False

    def fill(self) -> bool:
        """Read one more block; False at the end of the stream."""
        if self.eof:
            return False
        block = self.stream.read(BLOCK_CHARS)
        if not block:
            self.eof = True
            return False
        self.text = self.text[self.pos :] + block
        self.pos = 0
        return True

    def skip(self, chars: str) -> str:
        """Skip ``chars``; the next character ('' at the end)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in chars:
                if text[pos] == "\n":
                    self.line += 1
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return ""

    def decode(self) -> tuple[Any, str] | str:
        """The value at the position and its text, or why it does not decode."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos > MAX_ELEMENT_CHARS:
                    return f"no JSON value ends within {MAX_ELEMENT_CHARS} characters: {exc.msg}"
                if not self.fill():
                    return f"truncated or invalid JSON: {exc.msg}"
                continue
            if end == len(self.text) and not self.eof and self.fill():
                continue  # a number may go on in the next block
            text = self.text[self.pos : end]
            self.line += text.count("\n")
            self.pos = end
            return value, text


def json_elements(stream: IO[str]) -> Iterator[Element | Broken]:
    """The documents of a text stream: each element of a top-level array, or each
    top-level value (one pretty-printed document, or several one after another)."""
    buffer = _Buffer(stream)
    in_array = False
    while True:
        char = buffer.skip(_SPACE + ("," if in_array else ""))
        if not char:
            if in_array:
                yield Broken(buffer.line, "the JSON array is not closed (truncated file?)")
            return
        if char == "[" and not in_array:
            buffer.pos += 1
            in_array = True
            continue
        if char == "]" and in_array:
            buffer.pos += 1
            in_array = False
            continue
        line = buffer.line
        decoded = buffer.decode()
        if isinstance(decoded, str):
            yield Broken(line, decoded)
            return
        yield Element(decoded[0], decoded[1], line, in_array)
