"""cybexp-filter-correlation: events of every source meet through their shared indicators.

Reads every event other filters made and returns, per indicator it holds
(ipv4, ipv6, domain, url, email_addr, file hashes, hassh, credential...), a
``correlation`` session whose identity is the indicator and whose ``_ref``
gathers the hashes of all events that hold it. Configured under
``{"filters": {"correlation": {...}}}``; see README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from cybexp_core import Consumes, FilterInfo, FilterResult, hookimpl
from cybexp_filter_correlation.correlate import correlate
from cybexp_filter_correlation.options import Options

__all__ = ["FILTER_ID", "__version__", "configure", "filter", "filter_info", "register_commands"]

__version__ = "1.0.0"
#: Stable id: the runner marks the events it correlated with it.
FILTER_ID = "3c0d5a8e-6f1b-4b7e-9d2a-c0a7e1a7e8f4"


@hookimpl
def configure(settings: Mapping[str, Any]) -> Options:
    """Read the settings once, at load; a bad one stops the plugin loading, with its name."""
    return Options.from_settings(settings)


@hookimpl
def filter_info(options: Options) -> FilterInfo:
    """Declare the filter: it reads every event."""
    return FilterInfo(
        id=FILTER_ID,
        name="correlation",
        version=__version__,
        consumes=[Consumes("event")],
        description="A correlation session per shared indicator (ipv4, url, sha256, ...)",
        indicator_types=options.attributes,
    )


@hookimpl
def filter(document: dict[str, Any], options: Options) -> FilterResult | None:
    """The ``correlation`` sessions of one event."""
    return correlate(document, options)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """``cybexp-analytics threatrank``: scores events through this filter's sessions."""
    from cybexp_filter_correlation.threatrank import threatrank

    cli.add_command(threatrank)
