"""Long runs of base64 lines pass through the stdlib's feed parser as one line each.

The feed parser handles a message line by line in Python (about 2 us a line), and
most lines of real mail are the base64 of attachments. A line made only of base64
characters and its line break is, to the parser, like any other such line: it holds
no ``:``, starts with neither a blank, ``From `` nor ``-`` and is not empty, so it is
no header, continuation, envelope, boundary or blank line and simply joins the text
around it (a payload, a preamble or an epilogue). :func:`collapse` replaces each run of
such lines (all of one width, after a blank line) by one such line, a placeholder
that cannot occur in the text; :func:`restore` puts the runs back into the parsed
message, so every part's payload, preamble and epilogue is the one the parser makes
of the original text, and so are the structure and the defects.
"""

from __future__ import annotations

import re
from email.message import Message
from string import ascii_letters, digits

__all__ = ["collapse", "restore"]

#: Text that holds this character is parsed as it is (no placeholder could be told apart).
_MARK = "\x01"
_PLACEHOLDER = re.compile(f"{_MARK}([0-9]+){_MARK}")
_BASE64 = frozenset(f"{ascii_letters}{digits}+/=")
#: Each byte's class: ``a`` for a base64 character, CR and LF as they are, ``!`` for the rest.
_CLASSES = bytes(
    ord("a") if chr(b) in _BASE64 else b if b in (10, 13) else ord("!") for b in range(256)
)
#: Runs shorter than this many lines are left alone (not worth a placeholder).
_MIN_LINES = 8
#: Narrowest line considered (base64 in mail is written 60-76 characters wide).
_MIN_WIDTH = 16


class _Next:
    """Where ``needle`` next occurs in ``text`` at or after a position that only grows."""

    def __init__(self, text: str, needle: str) -> None:
        self._text, self._needle, self._at = text, needle, -2

    def __call__(self, pos: int) -> int:
        if self._at != -1 and self._at < pos:
            self._at = self._text.find(self._needle, pos)
        return self._at


def _run_end(text: str, start: int) -> int:
    """The end of the run of base64 lines of one width from ``start`` (``start`` if none)."""
    eol = text.find("\n", start, start + 1024)
    width = eol + 1 - start
    if eol < 0 or width < _MIN_WIDTH:
        return start
    crlf = text[eol - 1] == "\r"
    lines, chunk = 0, _MIN_LINES
    while True:  # count the lines that end where one of this width would, a chunk at a time
        ends = text[eol + lines * width : eol + (lines + chunk) * width : width]
        ending = len(ends) - len(ends.lstrip("\n"))
        lines += ending
        if ending < chunk:
            break
        chunk *= 2
    if lines < _MIN_LINES:
        return start
    body = text[start : start + lines * width]
    if not body.isascii():
        return start
    classes = body.encode("ascii").translate(_CLASSES)
    other = classes.find(b"!")
    if other >= 0:  # a line of this width that is not base64 (a boundary?) ends the run
        lines = other // width
        classes = classes[: lines * width]
    line = b"a" * (width - 2) + b"\r\n" if crlf else b"a" * (width - 1) + b"\n"
    if lines < _MIN_LINES or classes != line * lines:
        return start
    return start + lines * width


def collapse(text: str) -> tuple[str, list[str]]:
    """``text`` with each long run of base64 lines after a blank line replaced by one
    placeholder line (the run's last line break kept), and the runs replaced."""
    if _MARK in text:
        return text, []
    after_lf, after_crlf = _Next(text, "\n\n"), _Next(text, "\n\r\n")
    pieces: list[str] = []
    runs: list[str] = []
    done = pos = 0
    while True:
        found = [at for at in (after_lf(pos), after_crlf(pos)) if at >= 0]
        if not found:
            break
        blank = min(found)
        start = blank + (2 if text.startswith("\n\n", blank) else 3)
        pos = start
        if start >= len(text) or text[start] not in _BASE64:
            continue
        end = _run_end(text, start)
        if end == start:
            continue
        eol = 2 if text[end - 2] == "\r" else 1
        pieces += (text[done:start], f"{_MARK}{len(runs)}{_MARK}")
        runs.append(text[start : end - eol])
        done = pos = end - eol
    if not runs:
        return text, runs
    pieces.append(text[done:])
    return "".join(pieces), runs


def restore(message: Message, runs: list[str]) -> None:
    """Put the runs :func:`collapse` took out back into every part of ``message``."""
    if not runs:
        return

    def back(text: str) -> str:
        return _PLACEHOLDER.sub(lambda found: runs[int(found.group(1))], text)

    for part in message.walk():
        payload = part._payload  # the stored text, as the feed parser itself reads it
        if isinstance(payload, str) and _MARK in payload:
            part.set_payload(back(payload))
        for attribute in ("preamble", "epilogue"):
            value = getattr(part, attribute)
            if value and _MARK in value:
                setattr(part, attribute, back(value))
