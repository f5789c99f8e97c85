"""CYBEX-P filter: OpenPhish feeds become one malicious ``sighting`` event per URL.

See ``README.md`` for the formats read and the events made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_filter_openphish.feed import parse_feed

#: The original filter's id (``A:filters/openphish_feed.py``).
FILTER_ID = "c4cd1ecf-1149-46e0-9daa-e2477016d8dc"
#: What ``related VALUE`` tries a value as: attribute sub_types this filter makes.
INDICATOR_TYPES = ("url", "domain", "ipv4", "ipv6", "phish_target", "asn")
RAW_SUB_TYPE = "openphish_feed"


@hookimpl
def filter_info(settings: Mapping[str, Any]) -> FilterInfo:
    return FilterInfo(
        id=FILTER_ID,
        name="openphish",
        version="1.0.0",
        consumes=[Consumes.raw(RAW_SUB_TYPE)],
        description="OpenPhish community (URL per line) and commercial (JSON lines) feeds.",
        indicator_types=INDICATOR_TYPES,
    )


@hookimpl
def filter(document: dict[str, Any], settings: Mapping[str, Any]) -> FilterResult:
    return parse_feed(document)
