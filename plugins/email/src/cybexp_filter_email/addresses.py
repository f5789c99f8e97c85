"""Address fields in their commonest forms, read as ``policy.default`` reads them, cheaply.

``policy.default`` reads an address field with the recursive-descent parser of
``email._header_value_parser``: a few hundred microseconds a field, most of the cost of
a small message. Most fields are a list of plain forms (``a@example.org``,
``<a@example.org>``, ``Some Name <a@example.org>``, ``"Name, Some" <a@example.org>``)
in printable ASCII with no comment, encoded word, escape, group, route or domain
literal. For such a value :func:`simple_addresses` gives the ``(display_name,
addr_spec)`` pairs that the stdlib header's ``addresses`` give; for any other value it
returns None and the caller asks the stdlib. ``tests/test_addresses.py`` compares both
on generated values.
"""

from __future__ import annotations

import re

__all__ = ["simple_addresses", "unfolded"]

#: RFC 5322 ``atext``: letters, digits and these marks.
_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
#: One mailbox and its surrounding blanks: a bare addr-spec, or ``<addr-spec>`` after
#: nothing, a phrase of atoms or one quoted string (printable ASCII, no quote or backslash).
_MAILBOX = re.compile(
    rf"""[ \t]*(?:
        (?P<bare>{_ADDR_SPEC})
      | (?:(?P<phrase>{_ATOM}(?:[ \t]+{_ATOM})*)|"(?P<quoted>[ !\#-\[\]-~\t]+)")?
        [ \t]*<(?P<angle>{_ADDR_SPEC})>
    )[ \t]*(?P<comma>,?)""",
    re.VERBOSE,
)
_BLANKS = re.compile(r"[ \t]+")


def unfolded(value: str) -> str:
    """A raw field value as ``policy.default`` hands it to its parser (CR and LF dropped)."""
    return value.replace("\r", "").replace("\n", "") if "\n" in value or "\r" in value else value


def simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """The ``(display_name, addr_spec)`` of each mailbox of an unfolded field value in the
    simple forms, as the stdlib header gives them; None when ``value`` is not simple."""
    if not value.isascii() or "=?" in value:  # encoded words: the stdlib decodes them
        return None
    pairs: list[tuple[str, str]] = []
    pos, end = 0, len(value)
    while True:
        match = _MAILBOX.match(value, pos)
        if match is None:
            return None
        if match["bare"] is not None:
            pairs.append(("", match["bare"]))
        elif match["phrase"] is not None:
            pairs.append((_BLANKS.sub(" ", match["phrase"]), match["angle"]))
        else:
            pairs.append((match["quoted"] or "", match["angle"]))
        pos = match.end()
        if not match["comma"]:
            return pairs if pos == end else None
        if pos == end:  # a trailing comma: an empty list element
            return None
