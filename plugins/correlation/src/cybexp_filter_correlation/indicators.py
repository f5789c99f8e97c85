"""The indicators of a stored event: rebuilt from its ``data``, checked against its ``_ref``.

A stored event keeps the values of its descendants in ``data``
(``{sub_type: [value or {object data}, ...]}``) and their hashes in ``_ref``.
Rebuilding an :class:`Attribute` or :class:`Object` from a value gives the
same hash (TAHOE hashes only ``sub_type`` and ``data``), so the correlation
session can hold the very instance the event holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cybexp_core import Attribute, Child, InvalidInstanceError, Object, Problem

__all__ = ["event_indicators"]


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _object(sub_type: str, data: Mapping[str, Any]) -> Object:
    """Rebuild ``Object(sub_type, ...)`` from its stored ``data``."""
    children: list[Child] = []
    for key, values in data.items():
        for value in _values(values):
            if isinstance(value, Mapping):
                children.append(_object(key, value))
            else:
                children.append(Attribute(key, value))
    return Object(sub_type, children)


def _walk(
    data: Mapping[str, Any], objects: frozenset[str], attributes: frozenset[str], path: str
) -> Iterator[Child | Problem]:
    """Indicator attributes and objects anywhere in ``data``, depth first, in stored order."""
    for key, values in data.items():
        where = f"{path}.{key}"
        for value in _values(values):
            try:
                if isinstance(value, Mapping):
                    if key in objects:
                        yield _object(key, value)
                    yield from _walk(value, objects, attributes, where)
                elif key in attributes:
                    yield Attribute(key, value)
            except InvalidInstanceError as exc:
                yield Problem(where, f"not an indicator: {exc}")


def event_indicators(
    document: Mapping[str, Any], attributes: frozenset[str], objects: frozenset[str]
) -> tuple[list[Child], list[Problem]]:
    """The distinct indicator instances of an event document, and what could not be used.

    An instance whose hash is not in the event's ``_ref`` (a document edited
    by hand, say) is left out with a problem: correlating it would link the
    event through something it does not hold.
    """
    data = document.get("data")
    if not isinstance(data, Mapping):
        return [], []
    refs = document.get("_ref")
    known = set(refs) if isinstance(refs, list) else None
    found: dict[str, Child] = {}
    problems: list[Problem] = []
    for item in _walk(data, objects, attributes, "data"):
        if isinstance(item, Problem):
            problems.append(item)
        elif item._hash in found:
            continue
        elif known is not None and item._hash not in known:
            problems.append(
                Problem(
                    f"data.{item.sub_type}",
                    f"{item.sub_type} {item._hash[:12]}… is not in the event's _ref; skipped",
                )
            )
        else:
            found[item._hash] = item
    return list(found.values()), problems
