"""cybexp-filter-cowrie: Cowrie SSH/Telnet honeypot events to TAHOE instances.

Configured under ``{"filters": {"cowrie": {...}}}``: ``sub_types`` (raw
sub_types to read, default ``["cowrie", "unr_honeypot"]``), ``telnet_sensors``
(sensors whose events are Telnet when they do not say), ``generic_events``
(extra event ids kept as a generic event) and ``event_paths`` (per sub_type,
where a shipper's document holds the Cowrie event).
See README.md for the output and every deviation from CYBEX-P's filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_filter_cowrie.options import Options, options_from
from cybexp_filter_cowrie.source import filter_document

__all__ = ["FILTER_ID", "__version__", "configure", "filter", "filter_info"]

__version__ = "1.1.0"
#: The original filter's id, kept so documents it processed stay processed.
FILTER_ID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"
#: What ``related VALUE`` tries a value as: attribute sub_types this filter makes.
INDICATOR_TYPES = (
    "ipv4",
    "ipv6",
    "domain",
    "url",
    "username",
    "password",
    "shell_command",
    "filename",
    "sha256",
    "hassh",
    "port",
)


@hookimpl
def configure(settings: Mapping[str, Any]) -> Options:
    """Read the settings once, at load; a bad one stops the plugin loading, with its name."""
    return options_from(settings)


@hookimpl
def filter_info(options: Options) -> FilterInfo:
    """Declare the Cowrie filter and the raw sub_types it reads."""
    return FilterInfo(
        id=FILTER_ID,
        name="cowrie",
        version=__version__,
        consumes=[Consumes.raw(sub_type) for sub_type in options.sub_types],
        description="Cowrie honeypot events (JSON, Filebeat or whole log files) to TAHOE",
        indicator_types=INDICATOR_TYPES,
    )


@hookimpl
def filter(document: dict[str, Any], options: Options) -> FilterResult:
    """One raw document to events and ``cowrie_session`` sessions."""
    return filter_document(document, options)
