"""One OpenPhish URL as a malicious sighting (a community line, or a commercial record's URL)."""

from __future__ import annotations

from collections.abc import Sequence

from cybexp_core import Attribute, Event, Object
from cybexp_core.builders import sighting_event
from cybexp_core.indicators import url_attributes

#: Schemes OpenPhish lists (``ftp://`` phishes appear in the community feed); anything
#: else (``hxxp``, ``javascript``, ``data``) is refused.
SCHEMES = ("http", "https", "ftp")


def url_sighting(
    url: str, orgid: str, timestamp: float, extra: Sequence[Attribute | Object] = ()
) -> Event:
    """A malicious sighting of ``url``; its host and ``extra`` are part of the event, unjudged.

    :raises InputError: If ``url`` is not a usable http(s) URL (see
        :func:`cybexp_core.indicators.url_attributes`).
    """
    url_attribute, host = url_attributes(url, SCHEMES)
    return sighting_event(
        [url_attribute],
        orgid,
        timestamp,
        category="malicious",
        context="malicious",
        extra=[host, *extra],
    )
