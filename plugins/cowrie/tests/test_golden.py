"""The original filter's golden hashes (spec section 8), through the installed entry point.

The inputs are the Cowrie events of the original's ``tests/filters/cowrie_raw.txt``
(Filebeat documents, sub_type ``unr_honeypot``), processed with orgid ``ABC123``
as the original test did.
"""

from __future__ import annotations

import json

import pytest
from cowrie_helpers import DATA, child, golden_messages, the_event, the_session

from cybexp_core import Attribute, Event, Object

GOLDEN = json.loads((DATA / "cybexp_golden_hashes.json").read_text())
ORGID = GOLDEN["orgid"]
MESSAGES = golden_messages()
KEPT = {n: g for n, g in GOLDEN["events"].items() if "deviation" not in g}
DEVIATING = {n: g for n, g in GOLDEN["events"].items() if "deviation" in g}


def run_line(run, number: str, **changes: str):
    document = dict(MESSAGES[int(number) - 1])
    if changes:
        event = json.loads(document["message"])
        event.update(changes)
        document["message"] = json.dumps(event)
    return run(document, sub_type="unr_honeypot", orgid=ORGID)


def test_the_fixture_is_the_original_test_data(run):
    assert len(MESSAGES) == 16
    for number, expected in GOLDEN["events"].items():
        assert json.loads(MESSAGES[int(number) - 1]["message"])["eventid"] == expected["eventid"]


@pytest.mark.parametrize("number", sorted(KEPT, key=int))
def test_event_hash_is_the_original(run, number):
    assert the_event(run_line(run, number))._hash == KEPT[number]["event"]


@pytest.mark.parametrize("number", sorted(GOLDEN["sessions"], key=int))
def test_session_hash_is_the_original(run, number):
    assert the_session(run_line(run, number))._hash == GOLDEN["sessions"][number]


def test_spec_example_with_another_password(run):
    result = run_line(run, "1", password="123456")
    assert the_event(result)._hash == GOLDEN["spec_examples"]["login_password_123456"]


def test_plain_cowrie_documents_give_the_same_hashes(run):
    for number, expected in KEPT.items():
        event = json.loads(MESSAGES[int(number) - 1]["message"])
        assert the_event(run(event, sub_type="cowrie", orgid=ORGID))._hash == expected["event"]


@pytest.mark.parametrize("number", sorted(DEVIATING, key=int))
def test_direct_tcpip_host_is_a_domain_and_is_the_only_change(run, number):
    """Lines 3 and 5 go to host names, which the original stored as ``url``.

    Putting the host back under ``url`` gives the original's hash, so nothing
    else about these events changed.
    """
    event = the_event(run_line(run, number))
    assert event._hash != DEVIATING[number]["event"]
    dst = child(event, "dst")
    host = child(dst, "domain")
    as_original = Object("dst", [Attribute("url", host.data), child(dst, "port")])
    rebuilt = Event(
        event.sub_type,
        [as_original if item is dst else item for item in event.children],
        event.orgid,
        event.timestamp,
        mal_data=event.mal_data,
    )
    assert rebuilt._hash == DEVIATING[number]["event"]
