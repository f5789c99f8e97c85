"""From a raw document to a parsed message: input checks, the size bound, envelope stripping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from attrs import define, field

from cybexp_core import InputError, Problem
from cybexp_core.inputs import data_object
from cybexp_filter_email.policy import parse_message

__all__ = ["CUT_MARK", "Loaded", "Source", "load_message", "message_text"]

#: Appended where a message was cut; the part whose payload holds it is incomplete.
CUT_MARK = "\x00cybexp-email: message cut here\x00"

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SMTP_COMMAND = re.compile(r"(?:HELO|EHLO|MAIL FROM:|RCPT TO:)", re.IGNORECASE)
_SMTP_DATA = re.compile(r"^DATA[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE)
_SMTP_END = re.compile(r"^\.\r?\n", re.MULTILINE)
_MAIL_HEADERS = frozenset(
    {
        "from", "to", "cc", "bcc", "subject", "date", "received", "message-id", "sender",
        "reply-to", "return-path", "mime-version", "delivered-to", "x-mailgun-sending-ip",
    }
)  # fmt: skip
_OLE_MAGIC = ("\xd0\xcf\x11\xe0", "\ufffd\ufffd\x11\ufffd")  # as Latin-1 text, as replaced UTF-8


@define
class Source:
    """The message text of a raw document and what ingest said about it."""

    text: str
    #: Ingest read a non-UTF-8 file as Latin-1: ``text.encode("latin-1")`` is the file.
    latin1: bool = False
    #: ``data.timestamp``: when the file was fetched (epoch seconds), if ingest was told.
    fetched: float | None = None
    problems: list[Problem] = field(factory=list)


@define
class Loaded:
    """A parsed message and what happened on the way."""

    message: EmailMessage
    #: The message was cut (size bound, or a split file): its last part is incomplete.
    truncated: bool
    latin1: bool = False
    #: The whole text and the offset of the cut, when the size bound cut the message.
    rest: tuple[str, int] | None = None
    problems: list[Problem] = field(factory=list)


def message_text(document: Mapping[str, Any]) -> Source | None:
    """The message text of a raw ``email`` document, or None for a continuation part.

    :raises InputError: If ``data.data`` is not a string.
    """
    data = data_object(document, "email", "an object with the message text in data.data")
    text = data.get("data")
    if not isinstance(text, str):
        raise InputError(
            f"email: data.data must be the message text (a string), got {type(text).__name__}",
            field="data.data",
        )
    fetched = data.get("timestamp")
    source = Source(
        text,
        latin1=data.get("encoding") == "latin-1",
        fetched=float(fetched) if isinstance(fetched, (int, float)) and fetched >= 0 else None,
    )
    part, parts = data.get("part", 1), data.get("parts", 1)
    if isinstance(parts, int) and parts > 1:
        if part != 1:
            return None
        source.problems.append(
            Problem(
                "data.parts",
                f"{data.get('file', 'the file')} was split into {parts} documents at ingest; "
                "only part 1 is read, so the body may be cut and later attachments are missing",
            )
        )
        source.text += "\n" + CUT_MARK + "\n"
    return source


def _strip_envelope(text: str) -> str:
    """Drop leading blank lines and a batch-SMTP envelope (HELO ... DATA ... '.')."""
    text = text.lstrip("\r\n")
    if _SMTP_COMMAND.match(text):
        data = _SMTP_DATA.search(text)
        if data:
            text = text[data.end() :]
            end = _SMTP_END.search(text)
            if end:
                text = text[: end.start()]
    return text


def _not_mail_reason(text: str) -> str:
    if not text.strip():
        return "email: the message is empty"
    head = text[:4096]
    if head.startswith(_OLE_MAGIC):
        return (
            "email: this is not an RFC 822 message but an OLE2 binary file "
            "(an Outlook .msg file?); convert it to .eml first"
        )
    controls = sum(1 for ch in head if ch < "\x09" or "\x0e" <= ch < "\x20" or ch == "\ufffd")
    if "\x00" in head or controls > len(head) // 20:
        return "email: this is binary data, not an RFC 822 message (no header fields)"
    first = head.split("\n", 1)[0].strip()[:60]
    return f"email: no header fields at the start of the message (first line: {first!r})"


def _has_surrogates(text: str) -> bool:
    """Whether ``text`` holds lone surrogates (bytes ingest could not decode)."""
    if text.isascii():
        return False
    try:  # Latin-1 text (a file ingest read as Latin-1) has none: a quick copy says so
        text.encode("latin-1")
    except UnicodeEncodeError:
        return _SURROGATE.search(text) is not None
    return False


def load_message(source: Source, max_chars: int) -> Loaded:
    """Parse ``text`` (at most ``max_chars`` of it) with the stdlib parser, policy ``default``.

    :raises InputError: If the text is empty, binary or has no header fields.
    """
    problems: list[Problem] = []
    text = source.text
    if _has_surrogates(text):
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = _strip_envelope(text)
    truncated = CUT_MARK in text[-len(CUT_MARK) - 2 :]
    rest = None
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars) + 1 or max_chars
        problems.append(
            Problem(
                "data.data",
                f"the message has {len(text):,} characters; only the first {cut:,} are read "
                "(setting max_message_chars)",
            )
        )
        rest = (text, cut)
        text = text[:cut] + CUT_MARK + "\n"
        truncated = True
    try:
        message = parse_message(text)
    except Exception as exc:
        raise InputError(f"email: the stdlib parser failed: {type(exc).__name__}: {exc}") from exc
    if not message.keys():
        raise InputError(_not_mail_reason(text), field="data.data")
    if not _MAIL_HEADERS.intersection(key.lower() for key in message):
        raise InputError(
            "email: none of the header fields of an email (From, To, Subject, Date, "
            f"Received, Message-ID, ...) is present; found {', '.join(message.keys()[:5])}",
            field="data.data",
        )
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy default guarantees it
        raise InputError("email: unexpected message class")
    return Loaded(message, truncated, source.latin1, rest, problems)
