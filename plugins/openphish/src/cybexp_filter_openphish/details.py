"""What the commercial feed says about a phish beyond its URL, hosting and brand.

As IntelMQ's OpenPhish commercial parser keeps every other non-empty field as
``extra.<name>``, these are kept in an ``openphish`` object, one attribute per
field, under the feed's own names: ``sector``, ``family_id``, ``page_language``,
``tld``, ``asn_name``, ``country_name``, ``phishing_kit``, ``discover_time``
(epoch seconds) and each of ``emails`` as ``email_addr`` (the kit's drop
addresses, the sub_type the email plugin uses for addresses).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from cybexp_core import Attribute, Object

#: Text fields kept as they are (stripped), in the feed's names.
TEXT_FIELDS = (
    "sector",
    "family_id",
    "page_language",
    "tld",
    "asn_name",
    "country_name",
    "phishing_kit",
)
#: The feed's ``discover_time``: ``06-02-2018 15:16:06 UTC``.
DISCOVER_TIME = "%d-%m-%Y %H:%M:%S"
MAX_TEXT = 500


def _discover_time(value: object) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().removesuffix("UTC").strip()
    try:
        return datetime.strptime(text, DISCOVER_TIME).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _emails(value: object, notes: list[str]) -> list[Attribute]:
    found = []
    for item in value if isinstance(value, list) else [value]:
        text = item.strip().lower() if isinstance(item, str) else ""
        if "@" in text and " " not in text and len(text) <= 254:
            found.append(Attribute("email_addr", text))
        elif item not in (None, ""):
            notes.append(f"emails entry {str(item)[:60]!r} is not an address; dropped")
    return found


def openphish_object(record: Mapping[str, Any]) -> tuple[Object | None, list[str]]:
    """The ``openphish`` object of a commercial record, and notes on dropped fields."""
    notes: list[str] = []
    children: list[Attribute] = []
    for name in TEXT_FIELDS:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            children.append(Attribute(name, value.strip()[:MAX_TEXT]))
        elif value not in (None, "", [], {}):
            notes.append(f"{name} {str(value)[:60]!r} is not text; dropped")
    seen = _discover_time(record.get("discover_time"))
    if seen is not None:
        children.append(Attribute("discover_time", seen))
    elif record.get("discover_time") not in (None, ""):
        notes.append(f"discover_time {str(record['discover_time'])[:60]!r} is not a time; dropped")
    if record.get("emails") not in (None, "", []):
        children.extend(_emails(record.get("emails"), notes))
    return (Object("openphish", children) if children else None), notes
