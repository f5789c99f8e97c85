"""The TAHOE hash: ``sha256(itype + sub_type + [orgid + str(float(ts))] + canonical(data))``.

``canonical`` reproduces ``tahoe.misc.canonical`` exactly (see
``docs/tahoe-compatibility.md``): every dict/list level is re-encoded as a JSON
string, lists are de-duplicated and sorted by their canonical strings, strings
are stripped, and ``json.dumps`` runs with its defaults (``ensure_ascii``,
``", "``/``": "`` separators, ``sort_keys`` for dicts).

It dispatches on the exact type of each value (the common JSON types); other
types (subclasses of str, dict, list) take the general path, with the same
result. A dict is joined from its values' *fragments* (each value's canonical
string, JSON-encoded once more, as its parent level writes it) in key order; a
dict whose keys ``json.dumps`` would convert or refuse, or a value it refuses,
takes the general path, which gives ``json.dumps``'s own answer or error.

Lists of strings repeat (a Cowrie ``client.kex`` event lists its client's
algorithms: 141 distinct lists among the corpus's 14,718, up to 60 items,
~0.7 us an item to encode), so the canonical string and fragment of a list of
exact ``str`` are kept in a small bounded cache keyed by the tuple of its items
(only an exact ``str`` equals an exact ``str``: a hit is the same value).
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["canonical", "canonical_group", "canonical_mapping", "quote", "sha256_hex"]

_dumps = json.dumps
#: ``json.dumps`` of a str with the default ``ensure_ascii=True`` (the C encoder itself).
quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_sha256 = hashlib.sha256
_CONSTANTS = {None: "null", True: "true", False: "false"}
_strip = str.strip
_STR_ONLY = {str}
#: Lists of strings whose canonical string and fragment are remembered (the cache is
#: cleared when full), and the longest canonical string kept: a few MB at most, whatever
#: the input (the Cowrie corpus's longest is 627 characters, of 60 items).
GROUP_CACHE_SIZE = 1024
GROUP_CACHE_CHARS = 2048
#: Longer lists are never kept either (a key holds every item, duplicates included).
GROUP_CACHE_ITEMS = 256
_groups: dict[tuple[str, ...], tuple[str, str]] = {}


def _encoder() -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True)`` without building an encoder per call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: json's own function
        return lambda value: _dumps(value, sort_keys=True)
    # The arguments json.dumps(sort_keys=True) gives it, but no circular-reference
    # markers: what is encoded here is a dict or list of strings.
    encode = make(None, None, quote, None, ": ", ", ", True, False, True)
    join = "".join
    return lambda value: join(encode(value, 0))  # chunks (one, unless the output is huge)


_encode_sorted = _encoder()


def canonical(value: Any) -> str:
    """Return TAHOE's canonical string for any JSON-like ``value``."""
    kind = type(value)
    if kind is str:
        return quote(value.strip())
    if kind is dict:
        return _mapping(value)
    if kind is list:
        return _group(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite
        return float.__repr__(value)
    if kind is bool or value is None:
        return _CONSTANTS[value]
    return _general(value)


def _mapping(value: dict[Any, Any]) -> str:
    """``json.dumps({key: canonical(item)}, sort_keys=True)``, joined here from fragments."""
    parts = []
    try:
        for key in sorted(value):
            item = value[key]
            kind = type(item)
            if kind is str:
                fragment = quote(quote(item.strip()))
            elif kind is list and set(map(type, item)) == _STR_ONLY:
                fragment = _string_group(item)[1]
            else:
                fragment = quote(canonical(item))
            parts.append(quote(key) + ": " + fragment)
    except TypeError:  # keys other than str (json converts or refuses them), or bad values
        return _general(value)
    return "{" + ", ".join(parts) + "}"


def _group(value: Iterable[Any]) -> str:
    if type(value) is list and set(map(type, value)) == _STR_ONLY:
        return _string_group(value)[0]
    return _encode_sorted(
        sorted({quote(item.strip()) if type(item) is str else canonical(item) for item in value})
    )


def _string_group(value: list[str]) -> tuple[str, str]:
    """The canonical string and fragment of a non-empty list of exact ``str`` (cached)."""
    key = tuple(value)
    found = _groups.get(key)
    if found is not None:
        return found
    canon = _encode_sorted(sorted(set(map(quote, map(_strip, value)))))
    found = canon, quote(canon)
    if len(canon) <= GROUP_CACHE_CHARS and len(key) <= GROUP_CACHE_ITEMS:
        if len(_groups) >= GROUP_CACHE_SIZE:
            _groups.clear()
        _groups[key] = found
    return found


def _general(value: Any) -> str:
    """:func:`canonical` of a value that is no exact JSON type (subclasses, NaN, others)."""
    if isinstance(value, str):
        return quote(value.strip())
    if isinstance(value, dict):
        return canonical_mapping({key: canonical(item) for key, item in value.items()})
    if isinstance(value, list):
        return _group(value)
    return _dumps(value)


def canonical_group(canonical_items: Iterable[str]) -> str:
    """Canonical string of a list whose items' canonical strings are already known.

    Same as ``json.dumps(sorted(set(items)))``.
    """
    return _encode_sorted(sorted(set(canonical_items)))


def canonical_mapping(groups: dict[str, str]) -> str:
    """Canonical string of a dict whose values' canonical strings are already known.

    Same as ``json.dumps(groups, sort_keys=True)`` (its key coercion and errors too).
    """
    return _encode_sorted(groups)


def sha256_hex(unique: str) -> str:
    """Hex SHA-256 of the UTF-8 encoding of ``unique`` (TAHOE's ``_hash``)."""
    return _sha256(unique.encode()).hexdigest()
