"""Normalised indicator attributes, so the same indicator from any filter has one hash.

Every plugin that emits hosts or URLs builds them here: a PhishTank URL, a
URL in an email body and a Cowrie download URL then meet on the same ``url``
attribute, and their hosts on the same ``ipv4``/``ipv6``/``domain`` attribute.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

import idna

from cybexp_core.errors import InputError
from cybexp_core.models import Attribute

__all__ = [
    "INDICATOR_TYPES",
    "domain_to_ascii",
    "host_attribute",
    "normalize_host",
    "normalize_url",
    "url_attributes",
    "url_host",
]

#: Attribute sub_types that identify something (an address, a file, a mailbox): what
#: correlation links events on and what ``related`` tries first for an untyped value.
INDICATOR_TYPES = (
    "ipv4",
    "ipv6",
    "domain",
    "url",
    "email_addr",
    "sha256",
    "sha1",
    "md5",
    "hassh",
)

_CONTROL = frozenset(chr(code) for code in (*range(32), 127))


def _whatwg_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 host as browsers read it (``3232235777``, ``0x7f.1``, ``0300.0.0.1``)."""
    parts = text.split(".")
    if parts[-1] == "":
        parts.pop()
    if not 0 < len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        base = 16 if part[:2].lower() == "0x" else 8 if len(part) > 1 and part[0] == "0" else 10
        digits = part[2:] if base == 16 else part
        if not digits and base != 16:
            return None
        try:
            numbers.append(int(digits or "0", base))
        except ValueError:
            return None
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1])) + numbers[-1]
    return ipaddress.IPv4Address(value)


def normalize_host(host: str) -> tuple[str, str]:
    """Return ``(sub_type, value)`` for a host: ``ipv4``, ``ipv6`` or ``domain``.

    IP addresses take their compressed canonical form (IPv4 also from the forms
    browsers accept, such as ``3232235777``); domains are lower-cased, lose a
    trailing dot and are encoded as browsers do (:func:`domain_to_ascii`).

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
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:  # ::ffff:a.b.c.d is the IPv4 host a.b.c.d
            return "ipv4", mapped.compressed
        return ("ipv4" if address.version == 4 else "ipv6"), address.compressed
    if text[-1:].isdigit() or text[:2].lower() == "0x":
        browser = _whatwg_ipv4(text)
        if browser is not None:
            return "ipv4", browser.compressed
    if any(ch.isspace() or ch in "/\\@\x00" for ch in text):
        raise InputError(f"invalid host name {host!r}")
    try:
        value = domain_to_ascii(text)
    except (UnicodeError, idna.IDNAError) as exc:
        raise InputError(f"invalid host name {host!r}: {exc}") from exc
    return "domain", value


def domain_to_ascii(domain: str) -> str:
    """``domain`` in lower-case ASCII, as browsers write it (UTS #46, non-transitional).

    The ``idna`` package maps the text (``faß.de`` keeps its ``ß`` and becomes
    ``xn--fa-hia.de``; Python's own codec, IDNA 2003, gave ``fass.de``); each
    non-ASCII label is then punycode encoded. As in browsers, underscores and
    symbols UTS #46 allows are kept, and an ASCII name is only lower-cased.

    :raises UnicodeError: For an empty or too long label.
    :raises idna.IDNAError: For a code point UTS #46 disallows.
    """
    if not domain.isascii():
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
        domain = ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in mapped.split(".")
        )
    # Python's codec checks label lengths and leaves ASCII labels as they are.
    return domain.lower().encode("idna").decode("ascii")


def host_attribute(host: str) -> Attribute:
    """The ``ipv4``, ``ipv6`` or ``domain`` attribute of ``host`` (see :func:`normalize_host`)."""
    return Attribute(*normalize_host(host))


def normalize_url(url: str) -> str:
    """Strip ``url``, lower-case its scheme, normalise its host like :func:`normalize_host`
    (punycode, no trailing dot, canonical IP); keep path, query and fragment as given.

    :raises InputError: If ``url`` has no scheme or no host, an invalid port or host, or
        control characters (which URL parsers silently drop).
    """
    text = url.strip()
    if any(ch in _CONTROL for ch in text):
        raise InputError(f"invalid URL {url[:200]!r}: it holds control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"invalid URL {url!r}: {exc}") from exc
    if not parts.scheme or not parts.hostname:
        raise InputError(f"invalid URL {url!r}: it needs a scheme and a host")
    userinfo, _, _hostport = parts.netloc.rpartition("@")
    kind, host = normalize_host(parts.hostname)
    if kind == "ipv6":
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


def url_attributes(url: str, schemes: tuple[str, ...] | None = None) -> tuple[Attribute, Attribute]:
    """The ``url`` attribute of a normalised ``url`` and the attribute of its host.

    :param schemes: Allowed schemes (lower case); any when ``None``.
    :raises InputError: For an invalid URL, host or scheme.
    """
    scheme = url.strip().split(":", 1)[0].lower() if ":" in url else ""
    if schemes is not None and scheme and scheme not in schemes:
        raise InputError(f"URL scheme {scheme!r} is not one of {', '.join(schemes)}: {url[:200]!r}")
    normal = normalize_url(url)
    if schemes is not None and normal.split(":", 1)[0] not in schemes:
        raise InputError(f"URL scheme is not one of {', '.join(schemes)}: {url[:200]!r}")
    return Attribute("url", normal), host_attribute(url_host(normal))
