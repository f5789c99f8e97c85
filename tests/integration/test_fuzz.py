"""Hostile input against every installed plugin: never a crash, always a reason.

Property-based (hypothesis) documents go straight through each plugin's entry point;
then a mixed adversarial batch, including the corpus' DERIVED_adversarial files when
they are beside the repository, goes through the whole runner and database.
"""

from __future__ import annotations

import random
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cybexp_core import InputError, Raw
from cybexp_core.backend import Archive
from cybexp_core.ingest import check_keys, read_file, read_jsonl
from cybexp_core.models import flatten
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.testing import run_pipeline

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
REPORT = load_filters(entry_points_=entry_points(group="cybexp.filters"))
RAW_FILTERS = [f for f in REPORT.filters if any(c.itype == "raw" for c in f.info.consumes)]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["\x00", "$where", "a.b", "💥" * 50, " " * 10])
    | st.text(min_size=2000, max_size=5000)
)
keys = st.text(max_size=12) | st.sampled_from(
    ["$set", "a.b", "eventid", "data", "url", "src_ip", "timestamp", "session", "message", "\x00k"]
)
json_like = st.recursive(
    scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(keys, c, max_size=6), max_leaves=30
)
realistic = st.fixed_dictionaries(
    {},
    optional={
        "eventid": st.sampled_from(
            [
                "cowrie.login.failed",
                "cowrie.session.closed",
                "cowrie.direct-tcpip.data",
                "cowrie.unknown.thing",
            ]
        )
        | scalars,
        "src_ip": st.sampled_from(["1.2.3.4", "::1", "not-an-ip", ""]) | scalars,
        "session": scalars,
        "sensor": scalars,
        "timestamp": scalars,
        "data": json_like,
        "message": scalars,
        "url": scalars,
        "duration": scalars,
        "username": scalars,
        "password": scalars,
        "ipv4": scalars,
    },
)
documents = st.one_of(json_like, realistic, st.dictionaries(keys, json_like, max_size=5))


def _outcome(flt: LoadedFilter, document: dict[str, Any]) -> str:
    try:
        result = flt.run(document)
    except InputError:
        return "failed"
    if result is None:
        return "skipped"
    for instance in flatten(result.instances):
        assert instance._hash and instance.doc
    return "processed"


@pytest.mark.parametrize("flt", RAW_FILTERS, ids=lambda f: f.info.name)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=documents, wrapped=st.booleans())
def test_any_document_is_processed_or_refused_with_input_error(
    flt: LoadedFilter, data: Any, wrapped: bool
) -> None:
    sub_type = next(c.sub_type for c in flt.info.consumes if c.itype == "raw")
    payload = {"data": data} if wrapped else data
    document = {
        "itype": "raw",
        "sub_type": sub_type,
        "orgid": "fuzz",
        "timezone": "UTC",
        "_hash": "0" * 64,
        "data": payload,
    }
    assert _outcome(flt, document) in {"processed", "failed", "skipped"}


def _adversarial_raws() -> list[Raw]:
    """The corpus' DERIVED_adversarial files, ingested the way `ingest` would."""
    raws: list[Raw] = []
    for path in sorted(CORPUS.glob("*/DERIVED_adversarial*")):
        name = path.name.lower()
        if "cowrie" in name:
            raws += [r for r in read_jsonl(path, "cowrie", "fuzz", "UTC") if isinstance(r, Raw)]
            continue
        sub_type = "openphish_feed" if "openphish" in name else "phishtank_feed"
        raws += list(read_file(path, sub_type, "fuzz", "UTC", timestamp=1763625600.0))
    return raws


def _random_raws(rng: random.Random, count: int) -> list[Raw]:
    raws = []
    sub_types = sorted({c.sub_type for f in RAW_FILTERS for c in f.info.consumes if c.sub_type})
    for index in range(count):
        sub_type = rng.choice(sub_types)
        body = rng.choice(
            [
                {
                    "data": "".join(
                        rng.choice('ab\x00\n\r,"é$.{}[]:/') for _ in range(rng.randrange(300))
                    )
                },
                {
                    "eventid": rng.choice(["cowrie.login.failed", "cowrie.session.connect", "x"]),
                    "src_ip": rng.choice(["1.1.1.1", 7, None, "x" * 300]),
                    "session": index,
                    "timestamp": rng.choice(["2020-01-01T00:00:00Z", "yesterday", 12, None]),
                },
                {"nested": {"deep": [{"a": [1, {"b": "c"}]}]}, "n": index},
                {
                    "ipv4": rng.choice(["1.2.3.4", "999.1.1.1", 3.5]),
                    "timestamp": rng.choice([1, "2"]),
                },
            ]
        )
        try:
            check_keys(body)
        except InputError:
            continue
        raws.append(Raw(sub_type, body, "fuzz"))
    return raws


def test_adversarial_batch_through_the_runner_ends_processed_or_failed(archive: Archive) -> None:
    raws = _random_raws(random.Random(7), 300) + _adversarial_raws()
    summary = run_pipeline(archive, raws, filters=[f.entry_point for f in RAW_FILTERS])
    assert summary.total().handled > 0
    coll = archive.collection
    for flt in RAW_FILTERS:
        fid = flt.info.id
        for consumes in flt.info.consumes:
            if consumes.itype != "raw":
                continue
            query = {"itype": "raw", "sub_type": consumes.sub_type}
            total = coll.count_documents(query)
            done = coll.count_documents({**query, "filters": fid})
            failed = coll.count_documents({**query, f"_failed.{fid}.final_for": flt.info.version})
            assert done + failed == total, f"{flt.info.name}: documents left pending"
            for doc in coll.find({**query, f"_failed.{fid}": {"$exists": True}}):
                assert doc["_failed"][fid]["message"], "a failure always says why"
    for doc in coll.find({"itype": {"$ne": "raw"}}, {"_id": 0}):
        _assert_no_operator_keys(doc)


def _assert_no_operator_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert not key.startswith("$"), key
            _assert_no_operator_keys(item)
    elif isinstance(value, list):
        for item in value:
            _assert_no_operator_keys(item)
