"""CYBEX-P email filter: a raw RFC 822 / MIME message becomes a TAHOE ``email`` event.

See the package README for the output shape and every deviation from the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_filter_email.build import Limits, email_result

__all__ = ["configure", "filter", "filter_info"]

#: The original filter's id (CYBEX-P ``filters/email.py``): kept so marks stay valid.
FILTER_ID = "6e52bc6a-af7f-41ea-8684-e39c42d4aa3f"
#: What ``related VALUE`` tries a value as: attribute sub_types this filter makes.
INDICATOR_TYPES = (
    "email_addr",
    "domain",
    "ipv4",
    "ipv6",
    "url",
    "subject",
    "name",
    "filename",
    "sha256",
)
__version__ = "1.1.0"


@hookimpl
def configure(settings: Mapping[str, Any]) -> Limits:
    """Read the settings once, at load; a bad one stops the plugin loading, with its name."""
    return Limits.from_settings(settings)


@hookimpl
def filter_info() -> FilterInfo:
    """Declare the email filter; it reads raw documents of sub_type ``email``."""
    return FilterInfo(
        id=FILTER_ID,
        name="email",
        version=__version__,
        consumes=[Consumes.raw("email")],
        description="RFC 822 / MIME message -> TAHOE email event (+ URLs, hosts, attachments)",
        indicator_types=INDICATOR_TYPES,
    )


@hookimpl
def filter(document: dict[str, Any], options: Limits) -> FilterResult:
    """Turn one raw ``email`` document into an ``email`` event (see README)."""
    return email_result(document, options)
