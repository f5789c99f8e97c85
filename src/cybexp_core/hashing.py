"""The TAHOE hash: ``sha256(itype + sub_type + [orgid + str(float(ts))] + canonical(data))``.

``canonical`` reproduces ``tahoe.misc.canonical`` exactly (see
``docs/tahoe-compatibility.md``): every dict/list level is re-encoded as a JSON
string, lists are de-duplicated and sorted by their canonical strings, strings
are stripped, and ``json.dumps`` runs with its defaults (``ensure_ascii``,
``", "``/``": "`` separators, ``sort_keys`` for dicts).

It dispatches on the exact type of each value (the common JSON types) and
encodes each level with the C encoder ``json.dumps`` itself uses; other types
(subclasses of str, dict, list) take the general path, with the same result.
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
    return canonical_mapping(
        {
            key: quote(item.strip()) if type(item) is str else canonical(item)
            for key, item in value.items()
        }
    )


def _group(value: Iterable[Any]) -> str:
    return _encode_sorted(
        sorted({quote(item.strip()) if type(item) is str else canonical(item) for item in value})
    )


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
