"""PhishTank's XML dump (``online-valid.xml``): ``<entry>`` elements, read one at a time.

Parsed with ``defusedxml``, which refuses a DTD, entity declarations and
external references, so a hostile dump cannot expand entities (billion laughs)
or read files. Each ``<entry>`` becomes the same record the CSV and JSON dumps
give::

    <entry>
      <url>...</url> <phish_id>...</phish_id> <phish_detail_url>...</phish_detail_url>
      <details><detail><ip_address/><cidr_block/><announcing_network/><rir/>
                       <country/><detail_time/></detail></details>
      <submission><submission_time/></submission>
      <verification><verified/><verification_time/></verification>
      <status><online/></status> <target/>
    </entry>
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from cybexp_core import InputError

#: Fields of a ``<detail>``, as in the JSON dump's ``details[]``.
DETAIL_FIELDS = (
    "ip_address",
    "cidr_block",
    "announcing_network",
    "rir",
    "country",
    "detail_time",
)


def is_xml(first_line: str) -> bool:
    """True when the first line of a dump (or of a part) starts an XML document."""
    return first_line.startswith("<")


def _text(entry: Element, path: str) -> str | None:
    found = entry.find(path)
    return None if found is None or found.text is None else found.text.strip()


def entry_record(entry: Element) -> dict[str, Any]:
    """The record of one ``<entry>``, with the JSON dump's field names."""
    record: dict[str, Any] = {
        "phish_id": _text(entry, "phish_id"),
        "url": _text(entry, "url"),
        "submission_time": _text(entry, "submission/submission_time")
        or _text(entry, "submission_time"),
        "verified": _text(entry, "verification/verified") or _text(entry, "verified"),
        "verification_time": _text(entry, "verification/verification_time")
        or _text(entry, "verification_time"),
        "target": _text(entry, "target"),
    }
    record = {key: value for key, value in record.items() if value is not None}
    details = entry.find("details")
    if details is not None:
        record["details"] = [
            {name: _text(detail, name) for name in DETAIL_FIELDS}
            for detail in details.findall("detail")
        ]
    return record


def xml_records(text: str) -> Iterator[tuple[str, dict[str, Any] | InputError]]:
    """``(where, record or InputError)`` for each ``<entry>`` of an XML dump (or part).

    Memory stays bounded by one entry: each is cleared once read.
    """
    index = 0
    source = io.BytesIO(text.encode("utf-8"))
    try:
        for _event, element in iterparse(source, events=("end",), forbid_dtd=True):
            if element.tag != "entry":
                continue
            index += 1
            yield f"entry {index}", entry_record(element)
            element.clear()
    except DefusedXmlException as exc:
        yield (
            "xml",
            InputError(f"refused XML ({type(exc).__name__}: {exc}); nothing after it is read"),
        )
    except ParseError as exc:
        yield "xml", InputError(f"invalid or truncated XML after entry {index}: {exc}")
