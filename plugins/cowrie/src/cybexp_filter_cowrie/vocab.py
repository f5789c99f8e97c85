"""Cached builders of the attributes and objects Cowrie events share.

The same attacker address, credential, method or success flag recurs on
thousands of events; each is built (validated and hashed) once and reused.
Caches are bounded LRU caches (``functools.lru_cache``, ``typed`` so that
``True`` and ``1`` never share an entry); long strings bypass them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from cybexp_core import Attribute, InputError, Object
from cybexp_core.indicators import normalize_host, normalize_url

__all__ = [
    "MAX_CACHED_TEXT",
    "attacker",
    "attr",
    "credential",
    "dst",
    "host",
    "kex_object",
    "pair",
    "url",
]

_BIG = 1 << 15
_SMALL = 1 << 12
#: Longer strings (a 200 kB command, a TLS hello) are built each time and never
#: cached, so an entry holds at most a few kB.
MAX_CACHED_TEXT = 512

F = TypeVar("F", bound=Callable[..., Any])


def cached(maxsize: int) -> Callable[[F], F]:
    """``lru_cache(maxsize, typed=True)`` that is skipped for long string arguments.

    Functions of one or two arguments (nearly every call) get a wrapper without a loop.
    """

    def decorate(function: F) -> F:
        memo = lru_cache(maxsize=maxsize, typed=True)(function)
        arity = function.__code__.co_argcount
        limit = MAX_CACHED_TEXT
        call: Callable[..., Any]
        if arity == 1:

            def call(a: Any) -> Any:
                if type(a) is str and len(a) > limit:
                    return function(a)
                return memo(a)

        elif arity == 2:

            def call(a: Any, b: Any) -> Any:
                if (type(b) is str and len(b) > limit) or (type(a) is str and len(a) > limit):
                    return function(a, b)
                return memo(a, b)

        else:

            def call(*args: Any) -> Any:
                for arg in args:
                    if type(arg) is str and len(arg) > limit:
                        return function(*args)
                return memo(*args)

        wraps(function)(call)
        call.cache_info = memo.cache_info  # type: ignore[attr-defined]
        call.cache_clear = memo.cache_clear  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate


@cached(_BIG)
def attr(sub_type: str, value: str | int | bool) -> Attribute:
    """``Attribute(sub_type, value)``."""
    return Attribute.assemble(sub_type, value)


@cached(_BIG)
def attacker(src_ip: str) -> tuple[Attribute, Object]:
    """The attacker's ``ipv4``/``ipv6`` attribute and ``Object('attacker', [it])``.

    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is the IPv4 address.
    :raises ValueError: If ``src_ip`` is not an IP address.
    """
    address = ipaddress.ip_address(src_ip.strip())
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    ip = Attribute.assemble("ipv4" if address.version == 4 else "ipv6", address.compressed)
    return ip, Object.assemble("attacker", [ip])


@cached(_BIG)
def host(name: str) -> Attribute:
    """An ``ipv4``, ``ipv6`` or ``domain`` attribute (core's normalisation).

    :raises InputError: If ``name`` is not a host.
    """
    return Attribute(*normalize_host(name))


@cached(_BIG)
def dst(name: str, port: int) -> Object:
    """``Object('dst', [host, port])``: where a direct-tcpip request went."""
    return Object.assemble("dst", [host(name), attr("port", port)])


@cached(_BIG)
def url(text: str) -> Attribute | None:
    """A ``url`` attribute normalised by core, or ``None`` if ``text`` is not a URL."""
    try:
        return Attribute("url", normalize_url(text))
    except InputError:
        return None


@cached(_BIG)
def credential(username: str, secret_type: str, secret: str) -> Object:
    """``Object('credential', [username, <secret_type>: secret])``; no secret if type is ''."""
    children = [attr("username", username)]
    if secret_type:
        children.append(attr(secret_type, secret))
    return Object.assemble("credential", children)


@cached(_SMALL)
def pair(sub_type: str, name1: str, value1: str | int, name2: str, value2: str | int) -> Object:
    """An object of two attributes, e.g. ``terminal_size{width, height}``."""
    return Object.assemble(sub_type, [attr(name1, value1), attr(name2, value2)])


def kex_object(
    hassh: str | None, algorithms: str | None, groups: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[Object | None, Attribute | None]:
    """``Object('ssh_kex', ...)`` of a client's key-exchange offer, and its ``hassh``.

    ``groups`` pairs an attribute sub_type with the algorithm names offered.
    Both are ``None`` when there is nothing to put in the object. Offers of more
    than a few kB of text (a hostile client's) are built each time, never kept.
    """
    size = len(hassh or "") + len(algorithms or "")
    size += sum(len(name) for _, names in groups for name in names)
    make = _kex_object if size <= _MAX_CACHED_KEX_TEXT else _kex_object.__wrapped__
    return make(hassh, algorithms, groups)


#: Longer key-exchange offers (their hassh, algorithm text and names) are never cached.
_MAX_CACHED_KEX_TEXT = 8 * MAX_CACHED_TEXT


@lru_cache(maxsize=_SMALL)
def _kex_object(
    hassh: str | None, algorithms: str | None, groups: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[Object | None, Attribute | None]:
    hassh_attr = attr("hassh", hassh) if hassh else None
    children: list[Attribute] = [hassh_attr] if hassh_attr else []
    if algorithms:
        children.append(attr("hassh_algorithms", algorithms))
    for sub_type, names in groups:
        children.extend(attr(sub_type, name) for name in names if name)
    return (Object.assemble("ssh_kex", children) if children else None), hassh_attr
