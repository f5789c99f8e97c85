"""Model validation and the documents TAHOE stores."""

from __future__ import annotations

import attrs
import pytest

from cybexp_core import Attribute, Event, EventShape, InvalidInstanceError, Object, Raw, Session


@pytest.mark.parametrize("sub_type", ["email-addr", "1abc", "", None, 3])
def test_sub_type_must_be_an_identifier(sub_type: object) -> None:
    with pytest.raises(InvalidInstanceError, match="sub_type"):
        Attribute(sub_type, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [[1], {"a": 1}, b"bytes", object()])
def test_attribute_data_must_be_scalar(data: object) -> None:
    with pytest.raises(InvalidInstanceError, match="Attribute 'ipv4': data must be"):
        Attribute("ipv4", data)  # type: ignore[arg-type]


def test_object_needs_children() -> None:
    with pytest.raises(InvalidInstanceError, match="Object 'host': data must not be empty"):
        Object("host", [])
    with pytest.raises(InvalidInstanceError, match="data items must be Attribute or Object"):
        Object("host", ["1.1.1.1"])  # type: ignore[list-item]


def test_event_validates_orgid_timestamp_category_and_context() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    with pytest.raises(InvalidInstanceError, match="orgid"):
        Event("e", ip, None, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInstanceError, match="timestamp"):
        Event("e", ip, "o", "yesterday")  # type: ignore[arg-type]
    with pytest.raises(InvalidInstanceError, match="timestamp"):
        Event("e", ip, "o", float("nan"))
    with pytest.raises(InvalidInstanceError, match="category"):
        Event("e", ip, "o", 1, category="evil")
    with pytest.raises(InvalidInstanceError, match="not part of the event's data"):
        Event("e", ip, "o", 1, mal_data=[Attribute("ipv4", "9.9.9.9")])
    with pytest.raises(InvalidInstanceError, match="both malicious and benign"):
        Event("e", ip, "o", 1, mal_data=[ip], ben_data=[ip])


def test_context_may_name_a_nested_descendant() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    event = Event("login", Object("attacker", ip), "o", 5, ben_data=ip)
    assert event.doc["_ben_ref"] == [ip._hash]


def test_documents_have_tahoe_fields_in_tahoe_order() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    attacker = Object("attacker", ip)
    event = Event("login", [attacker], "org", 10, mal_data=[ip], category="malicious")
    assert list(ip.doc) == ["itype", "data", "sub_type", "_hash"]
    assert list(attacker.doc) == ["itype", "data", "_cref", "_ref", "sub_type", "_hash"]
    assert list(event.doc) == [
        "itype",
        "orgid",
        "timestamp",
        "category",
        "data",
        "_cref",
        "_ref",
        "_ben_ref",
        "_mal_ref",
        "sub_type",
        "_hash",
    ]
    assert event.doc["data"] == {"attacker": [{"ipv4": ["1.2.3.4"]}]}
    assert event.doc["timestamp"] == 10.0 and isinstance(event.doc["timestamp"], float)
    assert event.doc["category"] == "malicious"
    assert list(Raw("x", {"a": 1}, "o").doc) == [
        "itype",
        "data",
        "orgid",
        "timezone",
        "sub_type",
        "_hash",
    ]


def test_session_doc_holds_events_and_times_but_they_are_not_hashed() -> None:
    identity = [Attribute("sessionid", "abc"), Attribute("sesnor", "s1")]
    plain = Session("cowrie_session", identity)
    busy = Session("cowrie_session", identity, events=["e1"], start_time=1, end_time=3, duration=2)
    assert plain._hash == busy._hash
    assert busy.doc["_ref"][-1] == "e1"
    assert busy.doc["start_time"] == 1.0 and busy.doc["duration"] == 2.0
    assert "start_time" not in plain.doc


def test_models_are_frozen() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ip.data = "5.6.7.8"  # type: ignore[misc]


def test_equal_values_are_equal_instances() -> None:
    assert Attribute("ipv4", "1.2.3.4") == Attribute("ipv4", "1.2.3.4")
    assert len({Attribute("ipv4", "1.2.3.4"), Attribute("ipv4", "1.2.3.4")}) == 1


def test_with_events_keeps_the_identity_and_validates_the_stamp() -> None:
    identity = [Attribute("sessionid", "abc"), Attribute("sesnor", "s1")]
    base = Session("cowrie_session", identity)
    stamped = base.with_events(["e1"], start_time=1, end_time=2, duration=1)
    rebuilt = Session(
        "cowrie_session", identity, events=["e1"], start_time=1, end_time=2, duration=1
    )
    assert stamped._hash == base._hash
    assert stamped.doc == rebuilt.doc
    assert base.events == () and "start_time" not in base.doc
    with pytest.raises(InvalidInstanceError, match="start_time"):
        base.with_events(start_time="soon")  # type: ignore[arg-type]


def test_max_events_is_not_hashed_and_not_stored() -> None:
    identity = [Attribute("domain", "update.example.com")]
    plain = Session("correlation", identity, events=["e1"], start_time=1)
    capped = Session("correlation", identity, events=["e1"], start_time=1, max_events=3)
    assert capped._hash == plain._hash and capped.doc == plain.doc
    assert capped.max_events == 3 and plain.max_events is None
    assert capped.with_events(["e2"]).max_events == 3
    assert capped.with_events(["e2"], max_events=None).max_events is None
    assert plain.with_events(["e2"], max_events=5).max_events == 5


@pytest.mark.parametrize("bad", [0, -1, True, "3", 2.0])
def test_max_events_must_be_a_positive_int(bad: object) -> None:
    identity = [Attribute("domain", "update.example.com")]
    with pytest.raises(InvalidInstanceError, match="max_events"):
        Session("correlation", identity, max_events=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInstanceError, match="max_events"):
        Session("correlation", identity).with_events(max_events=bad)  # type: ignore[arg-type]


def test_assemble_builds_what_the_constructor_builds() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    attacker = Object("attacker", ip)
    method = Attribute("method", "ssh")
    for timestamp in (1588032005.834291, 5, -1.5):
        for mal in ([], [ip], [attacker, ip, ip]):
            made = Event.assemble("login", [method, attacker], "org", timestamp, mal, "malicious")
            built = Event(
                "login", [method, attacker], "org", timestamp, mal_data=mal, category="malicious"
            )
            assert made._hash == built._hash and made.doc == built.doc
            assert list(made.doc) == list(built.doc)
            assert made.children == built.children and made.mal_data == built.mal_data
            assert made.timestamp == built.timestamp and type(made.timestamp) is float


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("e", "x", "o", 1.0, [], "unknown"), "data must be"),
        (("e", ["x"], "o", 1.0, [], "unknown"), "data items must be"),
        (("e", "ip", None, 1.0, [], "unknown"), "orgid"),
        (("e", "ip", "o", float("nan"), [], "unknown"), "timestamp"),
        (("e", "ip", "o", 1.0, [], "evil"), "category"),
        (("e", "ip", "o", 1.0, ["other"], "unknown"), "not part of the event's data"),
        (("e-1", "ip", "o", 1.0, [], "unknown"), "sub_type"),
    ],
)
def test_assemble_refuses_what_the_constructor_refuses(args: tuple, match: str) -> None:
    ip, other = Attribute("ipv4", "1.2.3.4"), Attribute("ipv4", "9.9.9.9")
    given = {"ip": [ip], "other": other}
    sub_type, children, orgid, timestamp, mal, category = args
    children = given.get(children, children) if isinstance(children, str) else children
    mal = [given.get(m, m) for m in mal]
    with pytest.raises(InvalidInstanceError, match=match):
        Event.assemble(sub_type, children, orgid, timestamp, mal, category)


def _same(made: object, built: object) -> None:
    assert type(made) is type(built)
    assert made._hash == built._hash and made.doc == built.doc  # type: ignore[attr-defined]
    assert list(made.doc) == list(built.doc)  # type: ignore[attr-defined]


def test_event_shape_gives_the_event_the_constructor_builds() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    attacker = Object("attacker", ip)
    method = Attribute("method", "ssh")
    for mal, ben, category in (
        ([], [], "unknown"),
        ([ip], [method], "malicious"),
        ([attacker, ip, ip], (), "benign"),
    ):
        shape = EventShape(
            "login", [method, attacker], mal_data=mal, ben_data=ben, category=category
        )
        assert shape.sub_type == "login"
        for orgid, timestamp in (("org", 1588032005.834291), ("other", 5), ("org", -1.5)):
            made = shape.event(orgid, timestamp)
            built = Event(
                "login",
                [method, attacker],
                orgid,
                timestamp,
                mal_data=mal,
                ben_data=ben,
                category=category,
            )
            _same(made, built)
            assert made.children == built.children and made.mal_data == built.mal_data
            assert made.timestamp == built.timestamp and type(made.timestamp) is float
            assert made.orgid == orgid and made.category == category


def test_event_shape_refuses_what_the_constructor_refuses() -> None:
    ip = Attribute("ipv4", "1.2.3.4")
    with pytest.raises(InvalidInstanceError, match="not part of the event's data"):
        EventShape("login", [Attribute("method", "ssh")], mal_data=[ip])
    with pytest.raises(InvalidInstanceError, match="category"):
        EventShape("login", [ip], category="evil")
    with pytest.raises(InvalidInstanceError, match="data items must be"):
        EventShape("login", ["1.2.3.4"])  # type: ignore[list-item]
    shape = EventShape("login", [ip])
    with pytest.raises(InvalidInstanceError, match="orgid"):
        shape.event(None, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInstanceError, match="timestamp"):
        shape.event("org", float("nan"))


@pytest.mark.parametrize("value", ["1.2.3.4", " padded ", "é", 7, True, None, 1.5])
def test_attribute_assemble_is_the_constructor(value: object) -> None:
    _same(Attribute.assemble("ipv4", value), Attribute("ipv4", value))  # type: ignore[arg-type]


def test_object_and_session_assemble_are_the_constructors() -> None:
    user, password = Attribute("username", "root"), Attribute("password", "x")
    attacker = Object("attacker", Attribute("ipv4", "1.2.3.4"))
    for children in ([user], [password, user], (user, password, user), [attacker, user]):
        _same(Object.assemble("credential", children), Object("credential", children))
        _same(Session.assemble("cowrie_session", children), Session("cowrie_session", children))
    stamped = Session.assemble("cowrie_session", [user]).with_events(("e1",), 1.0, 2.0, None)
    _same(stamped, Session("cowrie_session", [user], events=["e1"], start_time=1, end_time=2))


@pytest.mark.parametrize(
    ("sub_type", "children", "match"),
    [("bad-type", "user", "sub_type"), ("cred", [], "must not be empty"), ("cred", ["x"], "items")],
)
def test_assemble_of_objects_and_sessions_refuses_bad_input(
    sub_type: str, children: object, match: str
) -> None:
    given = [Attribute("username", "root")] if children == "user" else children
    for cls in (Object, Session):
        with pytest.raises(InvalidInstanceError, match=match):
            cls.assemble(sub_type, given)  # type: ignore[arg-type]
