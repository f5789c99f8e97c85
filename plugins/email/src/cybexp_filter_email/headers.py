"""Header fields: decoded text, addresses, dates and the sending IP, robust to hostile input.

The stdlib header parser raises on some malformed values (``From: foo@`` gives an
IndexError), so every access falls back to the raw value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from cybexp_filter_email.addresses import simple_addresses, unfolded

__all__ = [
    "Mailbox",
    "clean",
    "declared_charsets",
    "has_address_text",
    "header_text",
    "mailboxes",
    "parse_date",
    "raw_values",
    "received_hops",
    "recode_8bit",
]

Mailbox = tuple[str | None, str | None]
"""``(name, address)`` of one mailbox, each None when absent."""

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_FOLD = re.compile(r"\r?\n")
#: RFC 5322 specials: a display name holding one is written in quotes.
_SPECIALS = frozenset('()<>@,:;."[]')
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_IPV6 = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)\]")
_FROM_CLAUSE = re.compile(r"^\s*from\s+(.*?)(?:\s+by\s|\s+with\s|\s+id\s|;|$)", re.I | re.S)


def clean(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) replaced: BSON cannot store them."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def recode_8bit(text: str, charsets: Iterable[str]) -> str:
    """Raw 8-bit header text of a file ingest read as Latin-1, decoded with the first of
    ``charsets`` its bytes fit (UTF-8, then the charsets the message declares)."""
    if text.isascii() or max(text) > "\xff":
        return text
    raw = text.encode("latin-1")
    for charset in charsets:
        try:
            return raw.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return text


def declared_charsets(msg: EmailMessage) -> list[str]:
    """UTF-8, then every charset declared in the message, in order."""
    found = {"utf-8": None}
    for part in msg.walk():
        charset = part.get_content_charset()
        if charset:
            found[charset] = None
    return list(found)


def _raw_fields(msg: EmailMessage, name: str) -> list[str]:
    """The values of every ``name`` field as stored, top to bottom (folds kept)."""
    key = name.lower()
    return [value for field, value in msg.raw_items() if field.lower() == key]


def raw_values(msg: EmailMessage, name: str) -> list[str]:
    """The unparsed, unfolded values of every ``name`` field, top to bottom."""
    return [_FOLD.sub("", value) for value in _raw_fields(msg, name)]


def _decode_raw(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - a bad encoded word: keep the text as written
        return value


def header_text(msg: EmailMessage, name: str) -> str | None:
    """The decoded text of the first ``name`` field, None if absent or blank."""
    try:
        value = msg[name]
    except Exception:  # noqa: BLE001 - stdlib parser bug on hostile input
        raws = raw_values(msg, name)
        value = _decode_raw(raws[0]) if raws else None
    if value is None:
        return None
    text = clean(str(value)).strip()
    return text or None


def _quoted(name: str) -> str:
    """The display name as the stdlib writes it (in quotes if it holds a special)."""
    if _SPECIALS.isdisjoint(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox(display: str, addr_spec: str) -> Mailbox:
    # As the original: the name is the display name as written by the stdlib
    # (quotes kept, e.g. '"Gina Russo via joinhandshake.com"'), the address is
    # the addr-spec. Text without '@' is a name, not an address.
    display, addr_spec = clean(display).strip(), clean(addr_spec).strip()
    if addr_spec in ("", "<>"):
        addr_spec = ""
    elif "@" not in addr_spec:
        display, addr_spec = display or addr_spec.strip('"'), ""
    return (_quoted(display) if display else None), (addr_spec or None)


def _simple_pairs(msg: EmailMessage, name: str) -> list[tuple[str, str]] | None:
    """The mailboxes of every ``name`` field when each is in a simple form, else None."""
    pairs: list[tuple[str, str]] = []
    for value in _raw_fields(msg, name):
        simple = simple_addresses(unfolded(value))
        if simple is None:
            return None
        pairs += simple
    return pairs


def has_address_text(msg: EmailMessage, name: str) -> bool:
    """``header_text(msg, name) is not None`` for an address field, without parsing a
    first field in a simple form (it holds a mailbox, so it has text)."""
    fields = _raw_fields(msg, name)
    if fields and simple_addresses(unfolded(fields[0])):
        return True
    return header_text(msg, name) is not None


def mailboxes(msg: EmailMessage, names: Iterable[str]) -> list[Mailbox]:
    """Every mailbox in the ``names`` fields (e.g. To and Cc), in order, without repeats."""
    found: dict[Mailbox, None] = {}
    for name in names:
        pairs = _simple_pairs(msg, name)
        if pairs is None:
            try:
                fields = msg.get_all(name) or []
                pairs = [(a.display_name, a.addr_spec) for f in fields for a in f.addresses]
            except Exception:  # noqa: BLE001 - stdlib parser bug: use the lenient parser
                pairs = getaddresses(raw_values(msg, name))
        boxes = [b for b in (_mailbox(d, a) for d, a in pairs) if b != (None, None)]
        if not boxes:  # nothing parses: keep the text as written, never lose it
            for value in raw_values(msg, name):
                text = clean(_decode_raw(value)).strip()
                if not text.strip('<>" '):  # "<>" (a null sender) is an empty field
                    continue
                if not text.endswith(";"):  # "undisclosed-recipients:;" is empty
                    boxes.append((None, text) if "@" in text else (text, None))
        found.update(dict.fromkeys(boxes))
    return list(found)


def parse_date(value: str) -> float | None:
    """Epoch seconds of an RFC 5322 date; a date without a zone (``-0000``) is UTC."""
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # Python < 3.10 returned None for bad input
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def mbox_date(msg: EmailMessage) -> float | None:
    """The date of an mbox ``From `` line (asctime, UTC), if the message has one."""
    line = msg.get_unixfrom()
    if not line:
        return None
    fields = line.split()
    for start in range(2, max(2, len(fields) - 4)):
        try:
            when = datetime.strptime(" ".join(fields[start : start + 5]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            continue
        return when.replace(tzinfo=timezone.utc).timestamp()
    return None


def received_hops(msg: EmailMessage) -> list[tuple[list[str], float | None]]:
    """For each Received field, top (latest) first: the IPs of its ``from`` clause and its date."""
    hops = []
    for value in raw_values(msg, "received"):
        head, _, date = value.rpartition(";")
        clause = _FROM_CLAUSE.match(head or value)
        ips = []
        if clause:
            text = clause.group(1)
            ips = [m.group(1) for m in _IPV6.finditer(text)] + _IPV4.findall(text)
        hops.append((ips, parse_date(date) if head else None))
    return hops


def first_external_ip(
    hops: list[tuple[list[str], float | None]],
    internal: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (),
) -> str | None:
    """The first public IP, top down, of a Received ``from`` clause: the host that handed
    the message to the receiving side. Private, loopback and ``internal`` addresses are hops
    inside the receiver's own network and are skipped."""
    for ips, _ in hops:
        for text in ips:
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if ip.is_global and not any(ip in net for net in internal):
                return ip.compressed
    return None
