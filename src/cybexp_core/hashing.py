"""The TAHOE hash: ``sha256(itype + sub_type + [orgid + str(float(ts))] + canonical(data))``.

``canonical`` reproduces ``tahoe.misc.canonical`` exactly (see
``docs/tahoe-compatibility.md``): every dict/list level is re-encoded as a JSON
string, lists are de-duplicated and sorted by their canonical strings, strings
are stripped, and ``json.dumps`` runs with its defaults (``ensure_ascii``,
``", "``/``": "`` separators, ``sort_keys`` for dicts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

__all__ = ["canonical", "canonical_group", "canonical_mapping", "quote", "sha256_hex"]

_dumps = json.dumps
#: ``json.dumps`` of a str with the default ``ensure_ascii=True`` (the C encoder itself).
quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def canonical(value: Any) -> str:
    """Return TAHOE's canonical string for any JSON-like ``value``."""
    if isinstance(value, str):
        return quote(value.strip())
    if isinstance(value, dict):
        return canonical_mapping({key: canonical(item) for key, item in value.items()})
    if isinstance(value, list):
        return canonical_group([canonical(item) for item in value])
    return _dumps(value)


def canonical_group(canonical_items: Iterable[str]) -> str:
    """Canonical string of a list whose items' canonical strings are already known.

    Same as ``json.dumps(sorted(set(items)))``, without the encoder's overhead.
    """
    return "[" + ", ".join(map(quote, sorted(set(canonical_items)))) + "]"


def canonical_mapping(groups: dict[str, str]) -> str:
    """Canonical string of a dict whose values' canonical strings are already known.

    Same as ``json.dumps(groups, sort_keys=True)`` for str keys and values.
    """
    if not all(type(key) is str for key in groups):
        return _dumps(groups, sort_keys=True)  # json's own key coercion and errors
    return "{" + ", ".join(quote(key) + ": " + quote(groups[key]) for key in sorted(groups)) + "}"


def sha256_hex(unique: str) -> str:
    """Hex SHA-256 of the UTF-8 encoding of ``unique`` (TAHOE's ``_hash``)."""
    return hashlib.sha256(unique.encode("utf-8")).hexdigest()
