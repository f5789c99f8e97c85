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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cybexp_core.hashing import quote

if TYPE_CHECKING:
    from cybexp_core.models import Child

__all__ = ["Derived", "derive", "derive_shared", "fragment"]

#: ``(data, canonical string, _cref, _ref)`` of a composite instance.
Derived = tuple[dict[str, list[Any]], str, tuple[str, ...], tuple[str, ...]]

_set = object.__setattr__

#: Derivations remembered by :func:`derive_shared`, keyed by the children's ``id``s.
_SHARED: dict[tuple[int, ...], tuple[tuple[Child, ...], Derived]] = {}
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
    ref: dict[str, None] = {}
    for child in ordered:
        ref[child._hash] = None
        if child._ref:
            ref.update(dict.fromkeys(child._ref))
    return data, "{" + ", ".join(parts) + "}", cref, tuple(ref)


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
            _SHARED.pop(next(iter(_SHARED), None), None)  # type: ignore[arg-type]
        _SHARED[key] = (children, derived)
    return derived
