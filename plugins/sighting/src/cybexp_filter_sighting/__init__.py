"""CYBEX-P filter: a generic key/value sighting becomes one ``sighting`` event per value.

See ``README.md`` for the raw document this filter reads and what it makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_core.indicators import INDICATOR_TYPES
from cybexp_filter_sighting.sighting import parse_sighting

#: The original filter's id (``A:filters/sighting.py``); the runner marks documents with it.
FILTER_ID = "05e66bff-c3e1-49a0-bd2e-ad203a1f94fc"
RAW_SUB_TYPE = "sighting"


@hookimpl
def filter_info(settings: Mapping[str, Any]) -> FilterInfo:
    return FilterInfo(
        id=FILTER_ID,
        name="sighting",
        version="1.0.0",
        consumes=[Consumes.raw(RAW_SUB_TYPE)],
        description="Key/value sightings: one sighting event per indicator.",
        indicator_types=INDICATOR_TYPES,
    )


@hookimpl
def filter(document: dict[str, Any], settings: Mapping[str, Any]) -> FilterResult:
    return parse_sighting(document)
