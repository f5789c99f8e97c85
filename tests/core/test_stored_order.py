"""Stored content does not depend on the order children arrive in (issue 17 item 7).

TAHOE's hash ignores list order; the stored ``data``, ``_cref`` and ``_ref``
follow the canonical order, so whichever writer comes first stores the same
bytes. The shared-derivation cache must give what a fresh derivation gives.
"""

from __future__ import annotations

import bson
from hypothesis import given
from hypothesis import strategies as st

from cybexp_core import Attribute, Event, Object
from cybexp_core.composite import derive, derive_shared
from tahoe_reference import canonical as reference_canonical

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)
attributes = st.builds(Attribute, st.sampled_from(["a", "b", "port", "ñ"]), scalars)
children = st.recursive(
    attributes,
    lambda inner: st.builds(
        Object, st.sampled_from(["host", "dst"]), st.lists(inner, min_size=1, max_size=4)
    ),
    max_leaves=10,
)


@given(st.lists(children, min_size=1, max_size=6), st.randoms())
def test_an_object_stores_the_same_bytes_in_any_child_order(items, random) -> None:
    shuffled = list(items)
    random.shuffle(shuffled)
    first, second = Object("o", items), Object("o", shuffled + shuffled[:1])
    assert first._hash == second._hash
    assert bson.encode(first.doc) == bson.encode(second.doc)


@given(st.lists(children, min_size=1, max_size=6), st.randoms())
def test_an_event_stores_the_same_bytes_in_any_child_order(items, random) -> None:
    shuffled = list(items)
    random.shuffle(shuffled)
    mal = items[:1]
    first = Event("e", items, "org", 1.5, mal_data=mal, category="malicious")
    second = Event("e", shuffled, "org", 1.5, mal_data=mal, category="malicious")
    assert bson.encode(first.doc) == bson.encode(second.doc)


def test_data_is_in_canonical_order() -> None:
    algorithms = [Attribute("pub_key_algo", name) for name in ("ssh-rsa", "ecdsa", "ssh-dss")]
    kex = Object("ssh_kex", [Attribute("hassh", "f00"), *algorithms])
    assert list(kex.data) == ["hassh", "pub_key_algo"]
    assert kex.data["pub_key_algo"] == ["ecdsa", "ssh-dss", "ssh-rsa"]
    assert kex._cref[1:] == tuple(a._hash for a in sorted(algorithms, key=lambda a: a.data))


@given(st.lists(children, min_size=1, max_size=6))
def test_the_shared_derivation_is_the_fresh_one(items) -> None:
    key = tuple(items)
    assert derive_shared(key) == derive(key)
    assert derive_shared(key) == derive(key)  # now from the cache


def _reference_derivation(items: list) -> tuple:
    """The derived fields as docs/tahoe-compatibility.md states them, computed plainly:
    sub_types sorted; within one, distinct children sorted by canonical string; ``_ref``
    lists each child's hash then its descendants', first occurrence kept."""
    by_sub_type: dict = {}
    for child in items:
        by_sub_type.setdefault(child.sub_type, {}).setdefault(child._canon, child)
    ordered = []
    for sub_type in sorted(by_sub_type):
        group = by_sub_type[sub_type]
        ordered += [group[canon] for canon in sorted(group)]
    data: dict = {}
    for child in ordered:
        data.setdefault(child.sub_type, []).append(child.data)
    canon = reference_canonical(data)
    ref: dict = {}
    for child in ordered:
        ref[child._hash] = None
        ref.update(dict.fromkeys(child._ref))
    return data, canon, tuple(c._hash for c in ordered), tuple(ref)


@given(st.lists(children, min_size=1, max_size=6))
def test_the_derivation_is_the_documented_one(items) -> None:
    assert derive(tuple(items)) == _reference_derivation(items)


@given(st.lists(attributes, min_size=2, max_size=2))
def test_two_children_take_the_documented_derivation_too(items) -> None:
    # two children have a path of their own (an event's commonest shape)
    assert derive(tuple(items)) == _reference_derivation(items)
    assert derive(tuple(reversed(items))) == _reference_derivation(items)
