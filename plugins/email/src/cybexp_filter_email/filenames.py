"""Attachment filenames as mail clients read them.

The stdlib reads ``filename``/``name`` parameters per RFC 2231 (``filename*=``,
``filename*0*=`` continuations) and decodes RFC 2047 encoded-words inside a quoted
value. Mailers also write encoded-words *unquoted* (``name==?utf-8?B?...?=``), which
is not a valid MIME token, so the stdlib finds no parameter at all; clients
(Thunderbird, Outlook, mutt) still show the decoded name. Here that case, and
encoded-words left undecoded in a value, are decoded the same way.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import Message

from cybexp_filter_email.headers import clean, raw_values

__all__ = ["attachment_filename"]

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
#: A ``filename=`` or ``name=`` parameter whose value is one or more encoded-words.
_ENCODED_PARAM = re.compile(
    r"""(?:^|;)\s*(file)?name\s*=\s*"?((?:=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=\s*)+)"?""",
    re.IGNORECASE,
)


def _decode_words(text: str) -> str:
    """``text`` with its RFC 2047 encoded-words decoded; as written if they are broken."""
    if _ENCODED_WORD.search(text) is None:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - a bad charset or base64: keep the text as written
        return text


def _unquoted_encoded_name(part: Message) -> str | None:
    """An encoded-word ``filename`` (Content-Disposition) or ``name`` (Content-Type)
    parameter the stdlib could not read; the disposition's filename wins."""
    found: dict[str, str] = {}
    for header in ("content-disposition", "content-type"):
        for value in raw_values(part, header):
            for match in _ENCODED_PARAM.finditer(value):
                key = "filename" if match.group(1) else "name"
                found.setdefault(key, match.group(2))
    raw = found.get("filename") or found.get("name")
    return _decode_words(raw.strip()) if raw else None


def attachment_filename(part: Message) -> str | None:
    """The part's filename as a mail client shows it, or None."""
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - stdlib parser bug on a hostile parameter
        name = None
    text = _decode_words(str(name)) if name else _unquoted_encoded_name(part)
    if not text:
        return None
    return clean(text).strip() or None
