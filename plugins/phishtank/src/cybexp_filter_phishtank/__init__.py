"""CYBEX-P filter: PhishTank dumps become one ``sighting`` event per phish.

See ``README.md`` for the formats read and the events made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_filter_phishtank.feed import parse_feed

#: The original filter's id (``A:filters/phishtank_feed.py``).
FILTER_ID = "e8f53cdc-1a9a-478d-ac4f-ab6a2f7e2341"
#: What ``related VALUE`` tries a value as: attribute sub_types this filter makes.
INDICATOR_TYPES = ("url", "domain", "ipv4", "ipv6", "phish_target", "asn")
RAW_SUB_TYPE = "phishtank_feed"


@hookimpl
def filter_info(settings: Mapping[str, Any]) -> FilterInfo:
    return FilterInfo(
        id=FILTER_ID,
        name="phishtank",
        version="1.0.0",
        consumes=[Consumes.raw(RAW_SUB_TYPE)],
        description="PhishTank CSV and JSON dumps and bare URL lists.",
        indicator_types=INDICATOR_TYPES,
    )


@hookimpl
def filter(document: dict[str, Any], settings: Mapping[str, Any]) -> FilterResult:
    return parse_feed(document)
