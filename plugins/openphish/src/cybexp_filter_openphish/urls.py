"""An OpenPhish URL as the ``url`` attribute and the attribute of its host."""

from __future__ import annotations

from cybexp_core import Attribute, InputError
from cybexp_core.indicators import host_attribute, normalize_url, url_host

#: Schemes OpenPhish lists; anything else (``hxxp``, ``javascript``, ``data``) is refused.
SCHEMES = frozenset({"http", "https"})


def url_attributes(text: str) -> tuple[Attribute, Attribute]:
    """``(url, host)`` attributes of one listed URL, normalised by cybexp-core.

    :raises InputError: If the text holds a control character (a TAB means a
        second column), has another scheme, or is not a URL with a host.
    """
    bad = next((ch for ch in text if ord(ch) < 0x20 or ch == "\x7f"), None)
    if bad is not None:
        raise InputError(f"control character {bad!r} in URL {text[:120]!r}")
    head, colon, _ = text.partition(":")
    scheme = head.lower() if colon and head.isascii() and head.isalnum() else ""
    if scheme not in SCHEMES:
        found = f"scheme {scheme!r}" if scheme else "no scheme"
        raise InputError(f"{found} in {text[:120]!r}: OpenPhish lists http and https URLs")
    return Attribute("url", normalize_url(text)), host_attribute(url_host(text))
