"""Cowrie 3.0 output: ``duration_ms``, the connection 4-tuple on every event, new event ids."""

from __future__ import annotations

import hashlib
import json

import pytest
from cowrie_helpers import DATA, child, children, events_of, read_jsonl, the_event, the_session

from cybexp_core import InputError, PluginError, Raw
from cybexp_core.testing import run_filter

COWRIE30 = read_jsonl(DATA / "era_2026_cowrie30.jsonl")


def find(eventid: str, **fields: object) -> dict:
    for event in COWRIE30:
        if event["eventid"] == eventid and all(event.get(k) == v for k, v in fields.items()):
            return event
    raise LookupError(eventid)


def value(item: object) -> object:
    return item.data  # type: ignore[attr-defined]


def test_session_duration_from_duration_ms(run):
    event = find("cowrie.session.closed", session="3a0c1e5f7b21")
    session = the_session(run(event))
    assert session.duration == pytest.approx(48.213)
    assert session.end_time - session.start_time == pytest.approx(48.213)
    assert run(event).problems == ()


def test_bad_duration_ms_is_a_problem_and_the_session_still_ends(run):
    event = {**find("cowrie.session.closed", session="3a0c1e5f7b21"), "duration_ms": "long"}
    result = run(event)
    session = the_session(result)
    assert session.duration is None and session.end_time is not None
    (problem,) = result.problems
    assert "'duration_ms'" in problem.reason


def test_one_2x_file_mixing_string_and_float_durations(run):
    """Cowrie 2.x writes a string duration for SSH sessions and a float for Telnet ones."""
    text = (DATA / "cowrie2x_mixed_durations.jsonl").read_text()
    result = run({"data": text, "file": "cowrie.json"})
    assert result.problems == ()
    durations = sorted(s.duration for s in result.instances if getattr(s, "duration", None))
    assert durations == [pytest.approx(2.0), pytest.approx(37.4)]


def test_the_repeated_connection_tuple_and_new_keys_change_nothing(run):
    """A 3.0 login gives the event a 2.9 login gives: key order, the connection 4-tuple,
    ``late``, ``orig_ip`` and ``orig_port`` are not part of it."""
    event = find("cowrie.login.failed", session="3a0c1e5f7b21")
    older = {
        "eventid": event["eventid"],
        "username": event["username"],
        "password": event["password"],
        "message": event["message"],
        "sensor": event["sensor"],
        "timestamp": event["timestamp"],
        "src_ip": event["src_ip"],
        "session": event["session"],
        "protocol": "ssh",
    }
    assert next(iter(event)) != "eventid"
    assert the_event(run(event))._hash == the_event(run(older))._hash
    late = {**event, "late": True, "orig_ip": "192.0.2.1", "orig_port": 1}
    assert the_event(run(late))._hash == the_event(run(older))._hash


def test_malformed_packet_is_stored_as_its_hash_and_length(run):
    event = find("cowrie.client.malformed_packet")
    made = the_event(run(event))
    assert made.sub_type == "malformed_packet"
    packet = child(made, "malformed_packet")
    raw = bytes.fromhex(event["data"])
    assert value(child(packet, "sha256")) == hashlib.sha256(raw).hexdigest()
    assert value(child(packet, "length")) == len(raw)
    assert event["data"] not in json.dumps(made.doc)  # the raw hex is not stored
    assert {packet._hash, child(packet, "sha256")._hash} <= set(made._mal_ref)
    assert value(child(made, "method")) == "ssh"


def test_malformed_packet_that_is_not_hex_keeps_the_event(run):
    result = run({**find("cowrie.client.malformed_packet"), "data": "zz-not-hex"})
    assert children(the_event(result), "malformed_packet") == []
    (problem,) = result.problems
    assert "'data'" in problem.reason and "hexadecimal" in problem.reason


def test_telnet_options(run):
    naws = the_event(run(find("cowrie.telnet.option", option="NAWS")))
    assert naws.sub_type == "telnet_option"
    assert (value(child(naws, "telnet_option")), value(child(naws, "telnet_command"))) == (
        "NAWS",
        "WILL",
    )
    numbered = the_event(run(find("cowrie.telnet.option", option=24)))
    assert (value(child(numbered, "telnet_option")), value(child(numbered, "telnet_command"))) == (
        "24",
        "DO",
    )
    with pytest.raises(InputError, match="'option'"):
        run({**find("cowrie.telnet.option", option="NAWS"), "option": None})


def test_ja4h_beside_ja4(run):
    made = the_event(run(find("cowrie.direct-tcpip.ja4h")))
    assert made.sub_type == "network_traffic"
    assert value(child(made, "ja4h")) == "ge11nn050000_4740ae6347b0_000000000000_000000000000"
    dst = child(made, "dst")
    assert (value(child(dst, "domain")), value(child(dst, "port"))) == ("www.example.org", 80)


def test_command_success_is_a_successful_shell_command(run):
    made = the_event(run(find("cowrie.command.success")))
    assert (value(child(made, "shell_command")), value(child(made, "success"))) == (
        "uname -a",
        True,
    )


FORK_EVENT = {
    "session": "3a0c1e5f7b21",
    "eventid": "cowrie.server.kex",
    "src_ip": "203.0.113.30",
    "kexAlgs": ["curve25519-sha256"],
    "message": "server kex offer sent",
    "sensor": "hp-fra-07",
    "timestamp": "2026-09-14T08:00:01.305000Z",
}


def test_a_forks_event_id_fails_with_a_reason_that_names_the_setting(run):
    with pytest.raises(InputError, match="generic_events") as caught:
        run(FORK_EVENT)
    assert caught.value.field == "eventid"
    assert "cowrie.server.kex" in str(caught.value)


def test_the_generic_events_setting_keeps_a_forks_event_id():
    raw = Raw("cowrie", FORK_EVENT, "org")
    result = run_filter("cowrie", raw, {"generic_events": ["cowrie.server.kex"]})
    made = the_event(result)
    assert made.sub_type == "cowrie_event"
    assert value(child(made, "cowrie_eventid")) == "cowrie.server.kex"
    assert value(child(made, "message")) == "server kex offer sent"
    assert value(child(child(made, "attacker"), "ipv4")) == "203.0.113.30"
    assert the_session(result).events == (made._hash,)
    with pytest.raises(PluginError, match="generic_events"):
        run_filter("cowrie", raw, {"generic_events": "cowrie.server.kex"})


def _file_text() -> str:
    return (DATA / "era_2026_cowrie30.jsonl").read_text()


def test_a_last_line_of_nul_bytes_is_one_bad_line(run):
    text = _file_text() + "\x00" * 4096
    result = run({"data": text})
    (problem,) = result.problems
    assert problem.where == f"line {len(COWRIE30) + 1}"
    assert "bad line" in problem.reason and "4096 NUL bytes" in problem.reason
    assert len(events_of(result)) == len(COWRIE30) - 3  # two closed, one log.closed


def test_a_truncated_last_line_is_one_bad_line(run):
    text = _file_text() + json.dumps(COWRIE30[4])[:70]
    result = run({"data": text})
    (problem,) = result.problems
    assert problem.where == f"line {len(COWRIE30) + 1}"
    assert "bad line: truncated JSON" in problem.reason


def test_an_event_written_after_nul_bytes_is_kept(run):
    """A sensor restarted after a crash appends its next line after the NUL run."""
    lines = _file_text().splitlines()
    lines[6] = "\x00" * 512 + lines[6]
    result = run({"data": "\n".join(lines)})
    (problem,) = result.problems
    assert (problem.where, problem.reason) == ("line 7", "512 NUL bytes before the event skipped")
    assert len(events_of(result)) == len(COWRIE30) - 3
