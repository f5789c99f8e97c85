"""``cowrie_session``: the original's identity, and times whatever order events arrive in."""

from __future__ import annotations

from datetime import datetime

import pytest
from cowrie_helpers import ERA_FILES, read_jsonl, the_event, the_session

from cybexp_core import Attribute, Session


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_identity_is_sessionid_and_the_misspelt_sensor(run):
    event = read_jsonl(ERA_FILES[0])[3]
    session = the_session(run(event))
    expected = Session(
        "cowrie_session",
        [Attribute("sessionid", event["session"]), Attribute("sesnor", event["sensor"])],
    )
    assert session._hash == expected._hash
    assert session.data == {"sessionid": [event["session"]], "sesnor": [event["sensor"]]}


def test_an_event_widens_the_session_to_its_own_time(run):
    event = next(e for e in read_jsonl(ERA_FILES[0]) if e["eventid"] == "cowrie.command.input")
    result = run(event)
    session = the_session(result)
    assert session.start_time == session.end_time == epoch(event["timestamp"])
    assert session.duration is None
    assert session.events == (the_event(result)._hash,)
    assert session.doc["_ref"][-1] == the_event(result)._hash


@pytest.mark.parametrize(
    ("duration", "seconds"), [(95.29923105239868, 95.29923105239868), ("40.0", 40.0)]
)
def test_closed_sets_end_duration_and_start(run, duration, seconds):
    event = {
        "eventid": "cowrie.session.closed",
        "duration": duration,
        "sensor": "s1",
        "timestamp": "2024-04-02T04:26:40.805813Z",
        "src_ip": "198.51.100.1",
        "session": "abc",
    }
    session = the_session(run(event))
    end = epoch(event["timestamp"])
    assert session.end_time == end
    assert session.duration == seconds and isinstance(session.duration, float)
    assert session.start_time == end - seconds
    assert session.events == ()


def test_connect_gives_the_start(run):
    event = next(e for e in read_jsonl(ERA_FILES[-1]) if e["eventid"] == "cowrie.session.connect")
    session = the_session(run(event))
    assert session.start_time == epoch(event["timestamp"])


def test_many_sessions_keep_their_own_identity(run):
    seen = {}
    for path in ERA_FILES:
        for event in read_jsonl(path):
            session = the_session(run(event))
            key = (event["session"], event["sensor"])
            assert seen.setdefault(key, session._hash) == session._hash
    assert len(set(seen.values())) == len(seen)


def test_a_long_session_id_is_built_each_time_and_not_kept(run):
    """A hostile sensor's megabyte session id must not stay in the identity cache."""
    from cybexp_filter_cowrie import sessions

    event = {**read_jsonl(ERA_FILES[0])[3], "session": "x" * 100_000}
    before = sessions._identity.cache_info().currsize
    first, second = the_session(run(event)), the_session(run(event))
    assert first._hash == second._hash
    assert first.data["sessionid"] == ["x" * 100_000]
    assert sessions._identity.cache_info().currsize == before
