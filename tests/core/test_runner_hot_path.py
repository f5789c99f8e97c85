"""The runner's hot-path helpers give what the plain ways give (issue 14)."""

from __future__ import annotations

import gc
import itertools
import os
import time

import attrs
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from cybexp_core import Attribute, Event, Object, Session, legacy_marks, oids
from cybexp_core.bookkeeping import Ticket, open_document
from cybexp_core.gather import gather
from cybexp_core.gc_pause import collection_paused
from cybexp_core.ingest import RECEIVED
from cybexp_core.models import flatten

scalars = st.booleans() | st.integers(-3, 3) | st.sampled_from(["x", "y", "root"])
attributes = st.builds(Attribute, st.sampled_from(["a", "b", "port"]), scalars)
children = st.recursive(
    attributes,
    lambda inner: st.builds(
        Object, st.sampled_from(["host", "dst"]), st.lists(inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
events = st.builds(
    Event,
    st.sampled_from(["login", "command"]),
    st.lists(children, min_size=1, max_size=3),
    st.just("org"),
    st.sampled_from([1.0, 2.0]),
)
sessions = st.builds(
    Session,
    st.just("cowrie_session"),
    st.lists(attributes, min_size=1, max_size=2),
    events=st.lists(st.sampled_from(["e1", "e2"]), max_size=2),
)
outputs = st.lists(events | sessions | children, max_size=8)


def _flattened(instances: list) -> tuple[dict, dict]:
    """What ``gather`` stands for: ``flatten``, de-duplicated, sessions grouped."""
    unique: dict = {}
    grouped: dict = {}
    for instance in flatten(instances):
        if isinstance(instance, Session):
            grouped.setdefault(instance._hash, []).append(instance)
        else:
            unique.setdefault(instance._hash, instance)
    return unique, grouped


@given(outputs)
def test_gather_lists_what_flatten_lists_in_its_order(instances) -> None:
    unique, grouped = gather(instances)
    expected_unique, expected_sessions = _flattened(instances)
    assert list(unique) == list(expected_unique)
    assert list(unique.values()) == list(expected_unique.values())
    assert {h: [id(s) for s in v] for h, v in grouped.items()} == {
        h: [id(s) for s in v] for h, v in expected_sessions.items()
    }


@given(outputs, st.data())
def test_gather_does_not_walk_below_what_is_known(instances, data) -> None:
    everything, _ = _flattened(instances)
    known = set(data.draw(st.lists(st.sampled_from(sorted(everything) or ["none"]))))
    unique, _ = gather(instances, known)
    for instance in unique.values():
        if instance._hash in known:
            continue
        for child in getattr(instance, "children", ()):
            assert child._hash in unique  # what is not known is walked in full
    # A known instance is listed, its descendants only if another path reaches them.
    top = {i._hash for i in instances if not isinstance(i, Session)}
    assert top <= set(unique)


def test_new_ids_are_distinct_increasing_and_of_now() -> None:
    before = int(time.time())
    ids = oids.new_ids(5000)
    after = int(time.time())
    assert len(set(ids)) == 5000 and all(isinstance(oid, ObjectId) for oid in ids)
    assert all(before <= oids.epoch(oid) <= after for oid in ids)
    assert len({oid.binary[4:9] for oid in ids}) == 1  # one process: one random part
    counters = [int.from_bytes(oid.binary[9:], "big") for oid in ids]
    assert all((b - a) % (1 << 24) == 1 for a, b in itertools.pairwise(counters))
    assert oids.new_ids(1)[0] not in set(ids)


def test_new_ids_differ_in_a_forked_child() -> None:
    mine = oids.new_ids(1)[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids have a random part of their own
        os.write(write, oids.new_ids(1)[0].binary)
        os._exit(0)
    os.waitpid(pid, 0)
    theirs = os.read(read, 12)
    assert theirs[4:9] != mine.binary[4:9]


def test_epoch_is_the_generation_time() -> None:
    for oid in (ObjectId(), oids.OID_MIN, oids.OID_MAX, oids.upper_at(1_700_000_000)):
        assert oids.epoch(oid) == oid.generation_time.timestamp()


def test_the_collector_is_paused_in_the_block_and_nesting_keeps_the_outer_state() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()  # the caller's choice stays
    finally:
        gc.enable()


marks = st.fixed_dictionaries(
    {},
    optional={
        "filters": st.lists(st.sampled_from(["f", "g"]), max_size=2) | st.just("f"),
        "_failed": st.just({"f": {"final_for": "1", "attempts": 2, "version": "1"}})
        | st.just({"g": {}})
        | st.just("bad"),
        "_problems": st.just({"f": {"count": 1}}),
        "_ref": st.lists(st.sampled_from(["h1", "h2"]), max_size=2) | st.just(7),
    },
)


def _opened_the_long_way(doc: dict, fid: str, version: str, recorded: dict | None) -> Ticket:
    """``open_document`` without its shortcut for a document that carries no mark."""
    _id = doc.pop("_id")
    doc[RECEIVED] = oids.epoch(_id)
    previous = dict(recorded or {}) or legacy_marks.legacy_failure(doc, fid)
    settled = legacy_marks.legacy_state(doc, fid, version)
    if previous.get("final_for") == version:
        settled = "failed"
    legacy_marks.strip(doc)
    listed = legacy_marks.listed_refs(doc) if doc.get("itype") == "raw" else ()
    return Ticket(
        _id,
        doc.get("_hash"),
        "raw",
        doc.get("sub_type"),
        doc.get("orgid"),
        listed,
        previous,
        settled,
    )


@given(marks, st.none() | st.just({}) | st.just({"final_for": "1", "version": "1"}))
def test_open_document_reads_what_the_long_way_reads(marked: dict, recorded: dict | None) -> None:
    doc = {
        "_id": ObjectId(),
        "itype": "raw",
        "sub_type": "s",
        "_hash": "h",
        "orgid": "o",
        "data": {"a": 1},
        **marked,
    }
    expected_doc = dict(doc)
    expected = _opened_the_long_way(expected_doc, "f", "1", recorded)
    ticket = open_document(doc, "f", "1", recorded)
    assert doc == expected_doc
    # listed: () or [] alike (only its hashes are read)
    assert attrs.evolve(ticket, listed=list(ticket.listed)) == attrs.evolve(
        expected, listed=list(expected.listed)
    )
