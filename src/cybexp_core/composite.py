"""The derived fields of an object, event or session, computed from its children.

TAHOE's canonical form de-duplicates each list and sorts it by the items'
canonical strings, so the hash ignores the order in which children arrive.
The stored ``data``, ``_cref`` and ``_ref`` follow that same canonical order
(sub_types sorted, children of one sub_type sorted by canonical string,
duplicates dropped): two raw documents that hold one logical object in
different orders store byte-identical documents, whichever is written first
(see docs/tahoe-compatibility.md).

Every child caches its canonical string (``_canon``) and, on first use, its
*fragment* (the canonical key of a parent holding it as the only child of its
sub_type), so a child shared by many parents (an attacker, a credential) is
encoded once, not once per parent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from cybexp_core.hashing import quote

if TYPE_CHECKING:
    from cybexp_core.models import Child

__all__ = ["Derived", "derive", "derive_shared", "fragment", "remembered"]

#: ``(data, canonical string, _cref, _ref)`` of a composite instance.
Derived = tuple[dict[str, list[Any]], str, tuple[str, ...], tuple[str, ...]]

_set = object.__setattr__
_sub_type = attrgetter("sub_type")

#: Derivations remembered by :func:`derive_shared`, keyed by the children's ``id``s
#: (an OrderedDict: dropping the oldest is O(1), where a dict's first key is not).
_SHARED: OrderedDict[tuple[int, ...], tuple[tuple[Child, ...], Derived]] = OrderedDict()
SHARED_SIZE = 8192
#: Longer canonical strings (a 200 kB command) are derived each time, never kept.
SHARED_MAX_CANON = 2048


def _entry(sub_type: str, sorted_canons: Sequence[str]) -> str:
    """``"<sub_type>": "<canonical list>"``: one key of a parent's canonical string
    (TAHOE quotes each level again); ``sorted_canons`` are sorted and distinct."""
    return quote(sub_type) + ": " + quote("[" + ", ".join(map(quote, sorted_canons)) + "]")


def fragment(child: Child) -> str:
    """The canonical key ``child`` gives a parent as the only child of its sub_type;
    computed on first use and kept on the child."""
    value = child._fragment
    if value is None:
        value = _entry(child.sub_type, (child._canon,))
        _set(child, "_fragment", value)
    return value


def derive(children: Sequence[Child]) -> Derived:
    """``data``, canonical string, ``_cref`` and ``_ref`` of a parent of ``children``.

    ``children`` must be a non-empty sequence of attributes and objects.
    """
    if len(children) == 1:
        child = children[0]
        key = child._hash
        refs = child._ref
        return (
            {child.sub_type: [child.data]},
            "{" + fragment(child) + "}",
            (key,),
            (key, *refs) if refs else (key,),
        )
    if len(children) == 2:
        first, second = children
        if first.sub_type > second.sub_type:
            first, second = second, first
        elif first.sub_type == second.sub_type:
            return _grouped(children)
        cref = (first._hash, second._hash)
        return (
            {first.sub_type: [first.data], second.sub_type: [second.data]},
            "{"
            + (first._fragment or fragment(first))
            + ", "
            + (second._fragment or fragment(second))
            + "}",
            cref,
            _refs((first, second), cref) if first._ref or second._ref else cref,
        )
    ordered = sorted(children, key=_sub_type)
    data: dict[str, list[Any]] = {}
    parts: list[str] = []
    hashes: list[str] = []
    nested = False
    for child in ordered:
        data[child.sub_type] = [child.data]
        parts.append(child._fragment or fragment(child))
        hashes.append(child._hash)
        if child._ref:
            nested = True
    if len(data) != len(ordered):  # some children share a sub_type
        return _grouped(children)
    cref = tuple(hashes)
    return data, "{" + ", ".join(parts) + "}", cref, _refs(ordered, cref) if nested else cref


def _refs(ordered: Sequence[Child], cref: tuple[str, ...]) -> tuple[str, ...]:
    """``_ref``: each child's hash followed by its descendants', first occurrence kept."""
    hashes: list[str] = []
    for child in ordered:
        hashes.append(child._hash)
        if child._ref:
            hashes += child._ref
    return tuple(dict.fromkeys(hashes))


def _grouped(children: Sequence[Child]) -> Derived:
    """:func:`derive` of children of which some share a sub_type."""
    # Within one sub_type, equal canonical strings mean equal hashes (an attribute's
    # canonical string is a JSON scalar, an object's a JSON object), so the canonical
    # string alone de-duplicates.
    groups: dict[str, dict[str, Child]] = {}
    for child in children:
        group = groups.get(child.sub_type)
        if group is None:
            groups[child.sub_type] = {child._canon: child}
        elif child._canon not in group:
            group[child._canon] = child
    data: dict[str, list[Any]] = {}
    parts: list[str] = []
    ordered: list[Child] = []
    for sub_type in sorted(groups):
        group = groups[sub_type]
        if len(group) == 1:
            [child] = group.values()
            parts.append(fragment(child))
            data[sub_type] = [child.data]
            ordered.append(child)
        else:
            canons = sorted(group)
            parts.append(_entry(sub_type, canons))
            members = [group[canon] for canon in canons]
            data[sub_type] = [member.data for member in members]
            ordered.extend(members)
    cref = tuple([child._hash for child in ordered])
    return data, "{" + ", ".join(parts) + "}", cref, _refs(ordered, cref)


def remembered(children: object) -> tuple[tuple[Child, ...], Derived] | None:
    """The children (as the tuple remembered) and derivation :func:`derive_shared` keeps for
    ``children`` (a list or tuple of the very same objects), else ``None``.

    A hit means ``children`` are the objects derived before (the entry keeps them alive,
    so their ``id``s are theirs): they need no second check.
    """
    if type(children) is not tuple and type(children) is not list:
        return None
    return _SHARED.get(tuple(map(id, children)))  # type: ignore[call-overload]


def derive_shared(children: tuple[Child, ...]) -> Derived:
    """:func:`derive`, remembered for the same children (the same objects, in the same
    order): the events of one attacker share their children, built by a filter's caches.

    The entry holds the children, so their ``id``s cannot be reused while it exists.
    The result's ``data`` is shared by every instance with these children, as a
    child's own ``data`` already is: documents are read, never modified in place.
    At most :data:`SHARED_SIZE` entries (the oldest goes first), each with a
    canonical string of at most :data:`SHARED_MAX_CANON` characters.
    """
    key = tuple(map(id, children))
    hit = _SHARED.get(key)
    if hit is not None:
        return hit[1]
    derived = derive(children)
    if len(derived[1]) <= SHARED_MAX_CANON:
        if len(_SHARED) >= SHARED_SIZE:
            _SHARED.popitem(last=False)
        _SHARED[key] = (children, derived)
    return derived
