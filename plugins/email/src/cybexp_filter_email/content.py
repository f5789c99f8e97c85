"""The MIME content: the body text, the attachments (filename, sha256) and the link sources."""

from __future__ import annotations

import binascii
import codecs
import hashlib
import re
from collections.abc import Iterable, Iterator
from email.message import EmailMessage, Message
from itertools import chain
from string import ascii_letters, digits

from attrs import define, field

from cybexp_core import Problem
from cybexp_filter_email.filenames import attachment_filename
from cybexp_filter_email.headers import clean
from cybexp_filter_email.htmltext import render_html
from cybexp_filter_email.message import CUT_MARK
from cybexp_filter_email.policy import parse_message

__all__ = ["Attachment", "Content", "decode_text", "read_content"]

_DELIMITER = re.compile(r"^--([^\s]{1,200}?)(?:--)?[ \t]*\r?$", re.MULTILINE)
#: ASCII bytes outside the base64 alphabet (A-Z, a-z, 0-9, +, /): skipped when decoding.
_NOT_BASE64 = bytes(set(range(128)) - set(f"{ascii_letters}{digits}+/".encode()))
_CHUNK = 1 << 20
#: Charsets tried, in order, when the declared one is unknown or does not fit the bytes.
_FALLBACKS = ("utf-8", "cp1252")
#: Declared charsets that accept any bytes: valid multi-byte UTF-8 in them is a lie.
_SINGLE_BYTE = frozenset({"ascii", "iso8859-1", "iso8859-15", "cp1252"})
#: What mailers that declare a charset often really send (a superset of it).
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "big5": "cp950", "shift_jis": "cp932",
    "euc_kr": "cp949", "ks_c_5601-1987": "cp949", "iso8859-8": "cp1255",
}  # fmt: skip


@define
class Attachment:
    filename: str | None
    sha256: str | None


@define
class Content:
    """What :func:`read_content` found in a message."""

    body: str | None = None
    attachments: list[Attachment] = field(factory=list)
    #: Texts to search for URLs, and link targets taken from HTML attributes.
    texts: list[str] = field(factory=list)
    links: list[str] = field(factory=list)
    problems: list[Problem] = field(factory=list)


def _where(part: Message, index: int) -> str:
    return f"MIME part {index} ({part.get_content_type()})"


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_text(raw: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode ``raw`` with its declared charset, else the first fallback that fits.

    Returns the text and a note when the declared charset was unknown or wrong.
    When the declared charset fits, the text equals ``get_content()``.
    """
    declared = charset or "ascii"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        codec, note = "", f"unknown charset {declared!r}"
    else:
        if codec in _SINGLE_BYTE and not raw.isascii() and (utf8 := _utf8(raw)) is not None:
            return utf8, f"declared {declared!r} but the bytes are UTF-8; decoded as utf-8"
        try:
            return raw.decode(declared), None
        except UnicodeDecodeError:
            note = f"the bytes are not valid {declared!r}"
    superset = _SUPERSETS.get(codec) or _SUPERSETS.get(declared)
    for name in (superset, *_FALLBACKS) if superset else _FALLBACKS:
        try:
            return raw.decode(name), f"{note}; decoded as {name}"
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), f"{note}; decoded as latin-1"


def _payload_text(part: Message) -> str:
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _part_text(part: Message, payload: str, latin1: bool) -> tuple[str, str | None]:
    """The text of a text/* part whose payload (without cut mark) is ``payload``."""
    charset = part.get_content_charset()
    cte = _cte(part)
    if payload.isascii() or cte not in ("", "7bit", "8bit", "binary"):
        probe = Message()
        probe.set_payload(payload)
        if cte:
            probe["Content-Transfer-Encoding"] = cte
        raw = probe.get_payload(decode=True)
        return decode_text(raw if isinstance(raw, bytes) else b"", charset)
    if latin1:  # 8-bit text of a file ingest read as Latin-1: decode its real bytes
        return decode_text(payload.encode("latin-1"), charset)
    return payload, None  # 8-bit text already decoded from UTF-8 by ingest


def _slices(text: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    end = len(text) if end is None else end
    for offset in range(start, end, _CHUNK):
        yield text[offset : min(offset + _CHUNK, end)]


def _iter_base64(pieces: Iterable[str]) -> Iterator[bytes]:
    """Decode base64 a chunk at a time, as the stdlib does: stop at the first padding,
    skip characters outside the alphabet. No full copy of the attachment is made."""
    carry = b""
    for piece in pieces:
        chunk, pad, _ = piece.partition("=")
        # Non-ASCII characters are outside the alphabet too: drop them, then the rest.
        data = carry + chunk.encode("ascii", "ignore").translate(None, _NOT_BASE64)
        usable = len(data) - len(data) % 4
        if usable:
            yield binascii.a2b_base64(data[:usable])
        carry = data[usable:]
        if pad:
            break
    if len(carry) > 1:
        yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))


def _cte(part: Message) -> str:
    return str(part.get("content-transfer-encoding", "")).strip().lower()


def _sha256(part: Message, pieces: Iterable[str], latin1: bool) -> str | None:
    """The sha256 of a part's decoded bytes; its payload comes as ``pieces`` of text."""
    cte = _cte(part)
    digest = hashlib.sha256()
    if cte == "base64":
        try:
            for chunk in _iter_base64(pieces):
                digest.update(chunk)
        except binascii.Error:
            return None
        return digest.hexdigest()
    payload = "".join(pieces)
    if not payload.isascii() and cte in ("", "7bit", "8bit", "binary"):
        # 8-bit data: ingest decoded the whole file as UTF-8 (strictly) or as Latin-1,
        # so encoding it back the same way gives the attachment's bytes.
        return hashlib.sha256(payload.encode("latin-1" if latin1 else "utf-8")).hexdigest()
    probe = Message()
    probe.set_payload(payload)
    probe["Content-Transfer-Encoding"] = cte or "7bit"
    raw = probe.get_payload(decode=True)
    return hashlib.sha256(raw).hexdigest() if isinstance(raw, bytes) else None


def _rest_of_cut_part(msg: Message, rest: tuple[str, int]) -> Iterator[str]:
    """The text after the cut up to the next boundary line: the rest of the cut part."""
    text, start = rest
    ends = [
        found
        for part in msg.walk()
        if part.is_multipart()
        and (boundary := part.get_boundary())
        and (found := text.find("\n--" + boundary, start)) >= 0
    ]
    return _slices(text, start, min(ends, default=len(text)))


def _is_attachment(part: Message, filename: str | None) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:  # noqa: BLE001
        disposition = None
    return (
        disposition == "attachment" or filename is not None or part.get_content_maintype() != "text"
    )


def _recover(part: Message) -> Message | None:
    """Re-read a multipart whose boundary was never found (its payload is raw text):
    with the boundary its delimiter lines really use, or as a part with its own headers."""
    payload = _payload_text(part)
    delimiter = _DELIMITER.search(payload)
    if delimiter:
        boundary = delimiter.group(1).replace('"', "")
        header = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        return parse_message(header + payload)
    inner = parse_message(payload.lstrip("\r\n"))
    return inner if "content-type" in inner else None


def _leaves(msg: Message, depth: int = 0) -> Iterator[Message]:
    """The non-multipart parts of ``msg``, with broken multiparts re-read (3 levels deep)."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        recovered = None
        if part.get_content_maintype() == "multipart" and depth < 3:
            recovered = _recover(part)
        if recovered is None:
            yield part
        else:
            yield from _leaves(recovered, depth + 1)


def _find_body(msg: EmailMessage, leaves: list[Message]) -> Message | None:
    """As the original (``get_body(('plain', 'html'))``); else the first inline text part."""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a hostile header in a part: search by hand
        body = None
    if body is not None:
        return body
    for ctype in ("text/plain", "text/html"):
        for part in leaves:
            if part.get_content_type() == ctype and not _is_attachment(
                part, attachment_filename(part)
            ):
                return part
    return None


def read_content(
    msg: EmailMessage,
    *,
    truncated: bool,
    latin1: bool,
    rest: tuple[str, int] | None,
    max_body_chars: int,
    max_part_chars: int,
) -> Content:
    """The body (text/plain, else text/html as text), attachments and link sources."""
    found = Content()
    leaves = list(_leaves(msg))
    body_part = _find_body(msg, leaves)
    cut_leaf = next((p for p in leaves if CUT_MARK in _payload_text(p)), None)
    if truncated and cut_leaf is None and leaves:
        cut_leaf = leaves[-1]  # the cut fell in headers or between parts: be safe
    for index, part in enumerate(leaves, 1):
        where = _where(part, index)
        payload = _payload_text(part)
        cut = part is cut_leaf
        marked = cut and CUT_MARK in payload
        if cut:
            payload = payload.split(CUT_MARK, 1)[0]
        ctype = part.get_content_type()
        filename = attachment_filename(part)
        if part is body_part or not _is_attachment(part, filename):
            text, note = _part_text(part, payload[:max_part_chars], latin1)
            if note:
                found.problems.append(Problem(where, note))
            if ctype == "text/html":
                text, links = render_html(text)
                found.links.extend(links)
            found.texts.append(text)
            if part is body_part:
                if len(text) > max_body_chars:
                    found.problems.append(
                        Problem(
                            where, f"body of {len(text):,} characters cut to {max_body_chars:,}"
                        )
                    )
                    text = text[:max_body_chars]
                found.body = clean(text)
            if cut:
                found.problems.append(
                    Problem(where, "this part was cut off; its text is incomplete")
                )
            continue
        if not cut:
            digest = _sha256(part, [payload], latin1)
        elif marked and rest and _cte(part) == "base64":  # hash on past the cut, streaming
            digest = _sha256(part, chain([payload], _rest_of_cut_part(msg, rest)), latin1)
        else:
            digest = ""
        if not digest:
            why = "was cut off" if digest == "" else "has bad base64"
            found.problems.append(Problem(where, f"attachment {filename!r} {why}: no sha256"))
        found.attachments.append(Attachment(filename, digest or None))
        if ctype in ("text/html", "text/plain") and not cut:
            text, _ = _part_text(part, payload[:max_part_chars], latin1)
            if ctype == "text/html":
                text, links = render_html(text)
                found.links.extend(links)
            found.texts.append(text)
    return found
