"""Hashes are byte-identical to the TAHOE library (vectors from docs/tahoe-compatibility.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cybexp_core import Attribute, Event, Object, Raw, Session, hashing
from cybexp_core.hashing import canonical
from tahoe_reference import canonical as reference_canonical
from tahoe_reference import event_hash, instance_hash


def test_attribute_vector() -> None:
    assert Attribute("ipv4", "1.1.1.1")._hash == (
        "4469d1e06fdd2b03ce89abf4dcc354df0be231b97e7293fe1750232d2d3b23a6"
    )


def test_credential_object_vector() -> None:
    username = Attribute("username", "root")
    password = Attribute("password", "123456")
    assert username._hash == "2b5c24f4f79f7defce4d6746cc1e53ceee88bc32e6e35dcb775e1bacb56db253"
    assert password._hash == "840a04144ac47401a3fefcdcb1ab36eeb7ef9d33e84e09e5ad4b19126de65ae6"
    credential = Object("credential", [username, password])
    assert credential._hash == "4826255f7b71cc7ddb0bcde8615c495f9cb489189e47e607cb6912e31aec6365"
    assert credential.data == {"username": ["root"], "password": ["123456"]}
    assert set(credential._cref) == set(credential._ref) == {username._hash, password._hash}


def test_login_event_vector() -> None:
    credential = Object(
        "credential", [Attribute("username", "root"), Attribute("password", "123456")]
    )
    event = Event("login", [credential], "ABC123", 1588032005.834291, mal_data=[credential])
    assert event._hash == "70137008db1c06963273b34a9aa75fde961a72463db13348875d0701f8e3dc25"
    assert event.doc["_mal_ref"] == [credential._hash]
    assert event.doc["_ben_ref"] == []
    assert len(event._ref) == 3
    assert event.category == "unknown"


def test_nested_url_object_vector() -> None:
    url = Object(
        "url", [Attribute("url", "example.com"), Object("host", [Attribute("ipv4", "1.1.1.1")])]
    )
    assert url._hash == "b228a4f398f3b974f16ba18c741dbeb09655e4ec9021b7e9c8d90a4210977ce6"


def test_single_child_object_vector() -> None:
    assert Object("obj_type", Attribute("att_type", "value"))._hash == (
        "a730521ee3b1f3665f25634de1421942d52119b58bf68498cd2beba8d73925be"
    )


def test_event_with_integer_timestamp_vector() -> None:
    orgid = "a441b15fe9a3cf56661190a0b93b9dec7d04127288cc87250967cf3b52894d11"
    event = Event("test", Attribute("test", "test"), orgid, -1)
    assert event._hash == "2a3cca131a1724c92cc1a823da9603b60bf037550e07bcabd1f1622d77762983"
    assert event.timestamp == -1.0


def test_cowrie_session_vector() -> None:
    session = Session(
        "cowrie_session", [Attribute("sessionid", "806c6ef9"), Attribute("sesnor", "f89597a7c9bc")]
    )
    assert session._hash == "b5dc33e8234420c32efd85790986c7f1497bdacca75c2a530892aba162d74483"


def test_separator_less_collision_is_reproduced() -> None:
    # TAHOE concatenates without separators; compatible hashes must collide the same way.
    assert Attribute("port1", 22)._hash == Attribute("port", 122)._hash


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("x", " x\n", True),  # surrounding whitespace is ignored
        (1, 1.0, False),
        (True, 1, False),
        ("1", 1, False),
        (None, "null", False),
        ("é", "\u00e9", True),
    ],
)
def test_scalar_identity(left: object, right: object, same: bool) -> None:
    assert (Attribute("v", left)._hash == Attribute("v", right)._hash) is same


def test_list_order_and_duplicates_do_not_change_the_hash() -> None:
    a, b = Attribute("tag", "a"), Attribute("tag", "b")
    assert Object("o", [a, b, a])._hash == Object("o", [b, a])._hash
    assert Object("o", [a, b, a]).data == {"tag": ["a", "b"]}


def test_unicode_is_escaped_like_json_dumps() -> None:
    value = "Grüße 📧 \u202e"
    assert Attribute("subject", value)._hash == instance_hash("attribute", "subject", value)


def test_raw_hash_ignores_orgid_and_timezone() -> None:
    data = {"eventid": "cowrie.login.failed", "list": [1, "a", {"b": None}]}
    first, second = Raw("cowrie", data, "org1"), Raw("cowrie", data, "org2", "US/Pacific")
    assert first._hash == second._hash == instance_hash("raw", "cowrie", data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_matches_reference(value: object) -> None:
    assert canonical(value) == reference_canonical(value)


class _Str(str):
    """A str subclass whose own ``strip`` the reference calls (the general path)."""

    def strip(self, chars: str | None = None) -> str:
        return "sub:" + str.strip(self, chars)


# Keys json.dumps converts (int, float, bool, None) or refuses with mixed types, str
# subclasses, lists of strings that repeat (the cache) and lists mixing types.
odd_keys = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2) | st.text(max_size=3)
string_lists = st.lists(st.sampled_from(["a", " a", "b ", "é", '"', "\\", "\x7f", ""]), max_size=5)
odd_values = st.recursive(
    st.text(max_size=4) | st.builds(_Str, st.text(max_size=3)) | st.integers() | string_lists,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(odd_keys, children, max_size=4)
    ),
    max_leaves=12,
)


def _reference_or_error(value: object) -> str:
    try:
        return reference_canonical(value)
    except TypeError as exc:
        return f"TypeError: {exc}"


def _canonical_or_error(value: object) -> str:
    try:
        return canonical(value)
    except TypeError as exc:
        return f"TypeError: {exc}"


@given(odd_values)
def test_canonical_matches_reference_on_odd_keys_and_repeated_lists(value: object) -> None:
    expected = _reference_or_error(value)
    assert _canonical_or_error(value) == expected
    assert _canonical_or_error(value) == expected  # again: lists of strings from the cache


def test_repeated_string_lists_come_from_the_bounded_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_groups", {})
    monkeypatch.setattr(hashing, "GROUP_CACHE_SIZE", 3)
    for number in range(10):
        value = {"algs": [f"alg-{number}", " x ", "y"], "again": [f"alg-{number}", "y", "x"]}
        assert canonical(value) == reference_canonical(value)
        assert canonical([" x ", f"alg-{number}"]) == reference_canonical([" x ", f"alg-{number}"])
        assert 0 < len(hashing._groups) <= 3
    long = [str(number) * 50 for number in range(100)]
    assert canonical(long) == reference_canonical(long)
    assert tuple(long) not in hashing._groups  # over GROUP_CACHE_CHARS: not kept
    repeated = ["a"] * 10_000  # a short canonical string, but a key of 10,000 items
    assert canonical(repeated) == reference_canonical(repeated) == canonical(["a"])
    assert tuple(repeated) not in hashing._groups  # over GROUP_CACHE_ITEMS: not kept


def test_a_list_with_a_str_subclass_is_not_taken_from_the_cache() -> None:
    assert canonical(["a", "b"]) == reference_canonical(["a", "b"])
    mixed = [_Str("a"), "b"]
    assert canonical(mixed) == reference_canonical(mixed) != canonical(["a", "b"])
    assert canonical({"k": mixed}) == reference_canonical({"k": mixed})


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
sub_types = st.sampled_from(["ipv4", "url", "username", "password", "x", "port", "città", "ñ_1"])
attributes = st.builds(Attribute, sub_types, scalars)
children = st.recursive(
    attributes,
    lambda inner: st.builds(
        Object,
        st.sampled_from(["host", "credential", "dst"]),
        st.lists(inner, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


def _tahoe_data(instance: Attribute | Object) -> object:
    """The value TAHOE would store for a child, duplicates and all."""
    if isinstance(instance, Attribute):
        return instance.data
    data: dict[str, list[object]] = {}
    for child in instance.children:
        data.setdefault(child.sub_type, []).append(_tahoe_data(child))
    return data


@given(sub_types, st.lists(children, min_size=1, max_size=5))
def test_object_hash_matches_reference(sub_type: str, items: list[Attribute | Object]) -> None:
    obj = Object(sub_type, items)
    assert obj._hash == instance_hash("object", sub_type, _tahoe_data(obj))


@given(
    st.lists(children, min_size=1, max_size=4),
    st.text(max_size=6),
    st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12),
)
def test_event_hash_matches_reference(
    items: list[Attribute | Object], orgid: str, timestamp: float
) -> None:
    event = Event("sighting", items, orgid, timestamp)
    assert event._hash == event_hash("sighting", orgid, timestamp, _tahoe_data(Object("x", items)))
