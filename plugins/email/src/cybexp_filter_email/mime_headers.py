"""MIME header fields in their commonest forms, written as ``policy.default`` writes them.

The feed parser and the filter read Content-Type, Content-Disposition and
Content-Transfer-Encoding many times a part, but almost always as text
(``get_content_type``, ``get_param``, ``get_filename`` split the header's string); the
header object ``policy.default`` builds for each of them costs its recursive-descent
parse (~150 us a field). For a value in the simple forms (``type/subtype`` or a
disposition or encoding token, then ``; name=token`` or ``; name="text"`` parameters,
printable ASCII, no comment, escape, encoded word, RFC 2231 section or repeated name)
:func:`simple_text` gives the string that parse gives (parameters written
``; name="value"``); for any other value it returns None. ``tests/test_mime_headers.py``
compares both on generated values. An unstructured field (Subject, X-Mailer, ...) in
ASCII without an encoded word is its own text (:func:`plain_text`).
"""

from __future__ import annotations

import re

__all__ = ["plain_text", "simple_text"]

#: RFC 2045 ``token``: printable ASCII but specials and space.
_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"
#: A parameter name: a token without ``*`` (RFC 2231 sections), ``'`` or ``%``.
_NAME = r"[!#$&+\-.0-9A-Z^_`a-z{|}~]+"
#: An unquoted parameter value: a token without ``*`` or ``'``.
_BARE = r"[!#$%&+\-.0-9A-Z^_`a-z{|}~]+"
_HEADS = {
    "content-type": re.compile(rf"[ \t]*{_TOKEN}[ \t]*/[ \t]*{_TOKEN}[ \t]*(?=;|\Z)"),
    "content-disposition": re.compile(rf"[ \t]*{_TOKEN}[ \t]*(?=;|\Z)"),
    "content-transfer-encoding": re.compile(rf"[ \t]*{_TOKEN}[ \t]*\Z"),
}
#: One parameter: a quoted value is printable ASCII without blanks, quotes or backslashes.
_PARAM = re.compile(rf';[ \t]*({_NAME})[ \t]*=[ \t]*(?:({_BARE})|"([!#-\[\]-~]*)")[ \t]*')


def simple_text(name: str, value: str) -> str | None:
    """The string of ``policy.default``'s header object for field ``name`` (lower case)
    and unfolded ``value``, when ``value`` is in the simple forms; else None."""
    head = _HEADS.get(name)
    if head is None or not value.isascii() or "=?" in value:
        return None
    match = head.match(value)
    if match is None:
        return None
    pos, end = match.end(), len(value)
    if pos == end:
        return value
    params: list[str] = []
    seen: set[str] = set()
    while pos < end:
        param = _PARAM.match(value, pos)
        if param is None:
            return None
        key, bare, quoted = param.groups()
        if key.lower() in seen:  # the stdlib keeps one of them: leave that to it
            return None
        seen.add(key.lower())
        text = bare if bare is not None else quoted
        params.append(f'{key}="{text}"' if text else key)
        pos = param.end()
    return f"{value[: match.end() + 1]} {'; '.join(params)}"


def plain_text(value: str) -> str | None:
    """The string of ``policy.default``'s unstructured header object for ``value``: the
    value itself when it is ASCII with no ``=?`` (which may start an encoded word)."""
    return value if value.isascii() and "=?" not in value else None
