"""Normalised indicator attributes, so the same indicator from any filter has one hash.

Every plugin that emits hosts or URLs builds them here: a PhishTank URL, a
URL in an email body and a Cowrie download URL then meet on the same ``url``
attribute, and their hosts on the same ``ipv4``/``ipv6``/``domain`` attribute.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from cybexp_core.errors import InputError
from cybexp_core.models import Attribute

__all__ = ["host_attribute", "normalize_host", "normalize_url", "url_host"]


def normalize_host(host: str) -> tuple[str, str]:
    """Return ``(sub_type, value)`` for a host: ``ipv4``, ``ipv6`` or ``domain``.

    IP addresses take their compressed canonical form; domains are lower-cased,
    lose a trailing dot and are IDNA (punycode) encoded.

    :raises InputError: If ``host`` is empty or not a valid host name.
    """
    text = host.strip().strip("[]").rstrip(".")
    if not text:
        raise InputError(f"empty host in {host!r}")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return ("ipv4" if address.version == 4 else "ipv6"), address.compressed
    if any(ch.isspace() or ch in "/\\@\x00" for ch in text):
        raise InputError(f"invalid host name {host!r}")
    try:
        value = text.lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InputError(f"invalid host name {host!r}: {exc}") from exc
    return "domain", value


def host_attribute(host: str) -> Attribute:
    """The ``ipv4``, ``ipv6`` or ``domain`` attribute of ``host`` (see :func:`normalize_host`)."""
    return Attribute(*normalize_host(host))


def normalize_url(url: str) -> str:
    """Strip ``url`` and lower-case its scheme and host; keep path, query and fragment as given.

    :raises InputError: If ``url`` has no scheme or no host, or an invalid port.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"invalid URL {url!r}: {exc}") from exc
    if not parts.scheme or not parts.hostname:
        raise InputError(f"invalid URL {url!r}: it needs a scheme and a host")
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    host = parts.hostname
    if hostport.startswith("["):
        host = f"[{host}]"
    new_hostport = host if port is None else f"{host}:{port}"
    netloc = f"{userinfo}@{new_hostport}" if userinfo else new_hostport
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def url_host(url: str) -> str:
    """The host part of ``url`` (lower-case, without userinfo or port)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError as exc:
        raise InputError(f"invalid URL {url!r}: {exc}") from exc
    if not host:
        raise InputError(f"invalid URL {url!r}: no host")
    return host
