"""Remembered event shapes give what building the event anew gives, whatever came before.

The plugin keeps each event's shape under the values of the fields its handler read
(``cybexp_filter_cowrie.shapes``). These tests run events in an order that makes a
remembered shape tempting but wrong (another branch of the handler, ``True`` for
``1``, a field present but null) and check every result against the same event run
with no shape remembered.
"""

from __future__ import annotations

from typing import Any

import bson
import pytest
from cowrie_helpers import Run, era_events

from cybexp_core import InputError
from cybexp_core.models import flatten
from cybexp_filter_cowrie import shapes

BASE = {
    "src_ip": "203.0.113.7",
    "session": "a1b2c3d4",
    "sensor": "honeypot-1",
    "timestamp": "2026-03-01T10:00:00.250000Z",
}


def _event(eventid: str, **fields: Any) -> dict[str, Any]:
    return {**BASE, "eventid": eventid, **fields}


def _stored(run: Run, data: dict[str, Any]) -> tuple[dict[str, bytes], list[str]]:
    result = run(data)
    documents = {item._hash: bson.encode(item.doc) for item in flatten(result.instances)}
    return documents, [problem.reason for problem in result.problems]


def _fresh(run: Run, data: dict[str, Any]) -> tuple[dict[str, bytes], list[str]]:
    """What ``data`` gives with no shape remembered (the shapes are restored after)."""
    caches = (shapes._SHAPES, shapes._OUTPUTS, shapes._READS)
    kept = [dict(cache) for cache in caches]
    for cache in caches:
        cache.clear()
    try:
        return _stored(run, data)
    finally:
        for cache, entries in zip(caches, kept, strict=True):
            cache.clear()
            cache.update(entries)


SEQUENCES = {
    "another branch of the handler": [
        _event("cowrie.login.failed", username="root", password="123456"),
        _event("cowrie.login.failed", username="root", fingerprint="aa:bb:cc"),
        _event("cowrie.login.failed", username="root"),
        _event("cowrie.login.failed", username="root", password="123456"),
    ],
    "a field present but null, then absent": [
        _event("cowrie.login.failed", username="root", password=None, fingerprint="aa:bb"),
        _event("cowrie.login.failed", username="root", fingerprint="aa:bb"),
    ],
    "lists and strings of one event id": [
        _event("cowrie.client.kex", hassh="h1", kexAlgs=["curve25519-sha256"], encCS=["aes"]),
        _event("cowrie.client.kex", hassh="h1", kexAlgs=["curve25519-sha256", "x"]),
        _event("cowrie.client.kex", hassh="h1", kexAlgs=["curve25519-sha256"], encCS=["aes"]),
    ],
    "the same fields from another address and protocol": [
        _event("cowrie.command.input", input="uname -a"),
        _event("cowrie.command.input", input="uname -a", src_ip="198.51.100.2"),
        _event("cowrie.command.input", input="uname -a", protocol="telnet"),
    ],
}


@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
def test_each_event_is_what_it_is_without_remembered_shapes(run: Run, sequence: str) -> None:
    for data in SEQUENCES[sequence] * 2:
        assert _stored(run, data) == _fresh(run, data)


def test_true_is_not_taken_for_one(run: Run) -> None:
    run(_event("cowrie.client.size", width=1, height=24))
    with pytest.raises(InputError, match="width"):
        run(_event("cowrie.client.size", width=True, height=24))


def test_problems_are_reported_on_every_event_of_a_remembered_shape(run: Run) -> None:
    data = _event("cowrie.login.failed", username="admin")
    first, second = _stored(run, data), _stored(run, data)
    assert first == second
    assert any("'password' is missing" in reason for reason in first[1])


def test_long_text_is_built_each_time_and_not_kept(run: Run) -> None:
    data = _event("cowrie.command.input", input="echo " + "A" * 10_000)
    before = len(shapes._SHAPES)
    assert _stored(run, data) == _fresh(run, data)
    assert len(shapes._SHAPES) == before


def test_the_era_fixtures_give_the_same_documents_with_and_without_shapes(run: Run) -> None:
    for _, event in era_events():
        try:
            remembered = _stored(run, event)
        except InputError as error:
            with pytest.raises(InputError, match=str(error)[:40].replace("(", r"\(")):
                _fresh(run, event)
            continue
        assert remembered == _fresh(run, event)


def test_a_remembered_handler_output_still_checks_the_new_address(run: Run) -> None:
    data = _event("cowrie.login.failed", username="root", password="hunter2")
    run(data)
    with pytest.raises(InputError, match="src_ip"):
        run({**data, "src_ip": "not an address"})
    again = {**data, "src_ip": "2001:db8::7"}
    assert _stored(run, again) == _fresh(run, again)


class _Text(str):
    """A str subclass, as a Python caller (not a decoded document) might pass."""


def test_a_list_of_str_subclass_items_counts_as_its_text(run: Run) -> None:
    plain = _event("cowrie.client.kex", hassh="h9", kexAlgs=["curve25519-sha256", "ext-info-c"])
    subclassed = {**plain, "kexAlgs": [_Text(name) for name in plain["kexAlgs"]]}
    assert _stored(run, subclassed) == _fresh(run, plain)
    assert _stored(run, plain) == _fresh(run, subclassed)
