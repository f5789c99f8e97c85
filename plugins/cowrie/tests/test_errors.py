"""Bad input is never a crash and never silently dropped: failed with a reason, or a problem."""

from __future__ import annotations

import json

import pytest
from cowrie_helpers import ERA_FILES, bad_cases, events_of, the_event, the_session

from cybexp_core import InputError

CASES = bad_cases()


@pytest.mark.parametrize("case", CASES["bad"], ids=[c["why"] for c in CASES["bad"]])
def test_bad_event_fails_naming_the_event_id_and_field(run, case):
    with pytest.raises(InputError) as caught:
        run(case["event"])
    message = str(caught.value)
    assert case["field"] in message
    assert caught.value.field == case["field"]
    eventid = case["event"].get("eventid")
    if eventid:
        assert eventid in message


@pytest.mark.parametrize("case", CASES["problems"], ids=[c["why"] for c in CASES["problems"]])
def test_unusable_field_is_left_out_and_reported(run, case):
    result = run(case["event"])
    assert the_session(result)
    (problem,) = result.problems
    assert problem.where == case["event"]["eventid"]
    assert repr(case["field"]) in problem.reason


def test_login_without_secret_keeps_the_username(run):
    case = next(c for c in CASES["problems"] if c["field"] == "password")
    credential = next(
        c for c in the_event(run(case["event"])).children if c.sub_type == "credential"
    )
    assert [(c.sub_type, c.data) for c in credential.children] == [("username", "root")]


def test_bad_duration_still_closes_the_session(run):
    case = next(c for c in CASES["problems"] if c["why"] == "duration is not a number")
    session = the_session(run(case["event"]))
    assert session.end_time is not None and session.duration is None


@pytest.mark.parametrize(
    "data",
    [
        {"message": "{not json", "sensor_type": ["ssh"]},
        {"message": "[1, 2]", "sensor_type": ["ssh"]},
        {"something": "else"},
    ],
    ids=["filebeat message not JSON", "filebeat message not an object", "no Cowrie event"],
)
def test_unreadable_documents(run, data):
    with pytest.raises(InputError):
        run(data, sub_type="unr_honeypot")


def test_a_whole_log_file_in_one_document(run):
    good = ERA_FILES[0].read_text().splitlines()
    lines = [*good[:3], "{truncated", "", '["an", "array"]', *good[3:]]
    result = run({"data": "\n".join(lines)})
    assert len(events_of(result)) + len(
        [e for e in good if "session.closed" in e or "log." in e]
    ) == len(good)
    where = {p.where for p in result.problems}
    assert where == {"line 4", "line 6"}
    assert all("line" in p.where for p in result.problems)


def test_a_file_with_no_readable_line_fails(run):
    with pytest.raises(InputError, match="no line could be read"):
        run({"data": "{bad\nnot json either\n"})


def test_a_file_part_names_its_part(run):
    text = "\n".join([json.dumps({"eventid": "cowrie.log.open"}), ERA_FILES[0].read_text()])
    result = run({"data": text, "file": "cowrie.json", "part": 2, "parts": 3, "header": "x"})
    assert result.problems[0].where == "part 2 line 1"
    assert "missing field 'timestamp'" in result.problems[0].reason


def test_a_latin1_file_keeps_its_utf8_lines(run):
    """``ingest --format file`` decodes a file with one bad byte as latin-1."""
    good = {
        "eventid": "cowrie.command.input",
        "input": "echo héllo",
        "session": "abc",
        "sensor": "s",
        "src_ip": "198.51.100.7",
        "timestamp": "2024-04-02T04:26:15.5Z",
    }
    raw_bytes = b"\xef\xbb\xbf" + json.dumps(good, ensure_ascii=False).encode() + b"\n\xff{}\n"
    result = run({"data": raw_bytes.decode("latin-1"), "encoding": "latin-1"})
    command = next(c for c in the_event(result).children if c.sub_type == "shell_command")
    assert command.data == "echo héllo"
    assert [p.where for p in result.problems] == ["line 2"]
