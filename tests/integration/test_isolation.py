"""Issue 17 items 3, 4, 5 and 8: documents other writers stored cannot break or hijack a run.

Raw documents are inserted with pymongo, as other CYBEX-P modules write them; the
checks are what a user sees: ``run --once`` exit code, ``status`` and ``failed list``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import cli, database, runner_config, summary_of
from cybexp_core import Attribute, Raw, Session
from cybexp_core.backend import Archive

COWRIE_ID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"
ATTACKER = "203.0.113.9"


def _login(number: int, ip: str = ATTACKER, **extra: Any) -> dict[str, Any]:
    return {
        "eventid": "cowrie.login.failed",
        "session": f"{number:012x}",
        "src_ip": ip,
        "sensor": "sensor-a",
        "username": "root",
        "password": f"pw{number}",
        "timestamp": f"2026-11-20T08:15:{number % 60:02d}.000000Z",
        **extra,
    }


Where = tuple[str, str]


@pytest.fixture
def where(archive: Archive, mongo_uri: str) -> Where:
    """The server and database the CLI is pointed at (the ``archive`` fixture's)."""
    return mongo_uri, database(archive)


def _run_once(where: Where, *args: str, config: Path | None = None) -> dict[str, Any]:
    return summary_of(cli(*where, "run", "--once", "--json", *args, config=config))


def _status(where: Where) -> dict[str, dict[str, Any]]:
    result = cli(*where, "status", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return {row["name"]: row for row in json.loads(result.stdout)["filters"]}


def _failed_list(where: Where) -> list[dict[str, Any]]:
    result = cli(*where, "failed", "list", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------- item 5


def _forged(data: dict[str, Any], forged_hash: str) -> dict[str, Any]:
    """A raw document stored with somebody else's ``_hash``."""
    return {**Raw("cowrie", data, "org-evil").doc, "_hash": forged_hash}


def test_a_forged_raw_hash_cannot_suppress_an_attribute(archive: Archive, where: Where) -> None:
    target = Attribute("ipv4", ATTACKER)._hash
    archive.collection.insert_one(_forged(_login(99, "198.51.100.1"), target))
    archive.insert_raw([Raw("cowrie", _login(n), "org-honeynet") for n in range(7)])

    summary = _run_once(where, "--filter", "cowrie")

    assert summary["filters"]["cowrie"]["failed"] == 1
    coll = archive.collection
    assert coll.count_documents({"_hash": target, "itype": "attribute"}) == 1
    assert coll.count_documents({"itype": "event", "_ref": target}) == 7
    (row,) = _failed_list(where)
    assert row["hash"] == target and row["error"] == "HashMismatch"
    assert "content" in row["message"]
    assert _status(where)["cowrie"]["pending"] == 0


def test_a_forged_raw_hash_cannot_absorb_a_correlation_session(
    archive: Archive, where: Where
) -> None:
    indicator = Attribute("ipv4", ATTACKER)
    target = Session("correlation", [indicator])._hash
    archive.collection.insert_one(_forged(_login(99, "198.51.100.1"), target))
    archive.insert_raw([Raw("cowrie", _login(n), "org-honeynet") for n in range(3)])

    summary = _run_once(where, "--filter", "cowrie", "--filter", "correlation")

    assert summary["filters"]["cowrie"]["failed"] == 1
    coll = archive.collection
    session = coll.find_one({"_hash": target, "itype": "session"})
    assert session is not None, "the genuine session was never stored"
    events = {e["_hash"] for e in coll.find({"itype": "event", "_ref": indicator._hash})}
    assert len(events) == 3 and set(session["_ref"]) == {indicator._hash, *events}
    forged = coll.find_one({"_hash": target, "itype": "raw"})
    assert forged["orgid"] == "org-evil"
    assert not {"start_time", "end_time", "_cref"} & set(forged), "session merged into raw"


def test_a_raw_document_with_a_non_json_or_wrong_hash_fails_alone(
    archive: Archive, where: Where
) -> None:
    good = Raw("cowrie", _login(1), "org-honeynet")
    archive.insert_raw([good])
    bad = {**Raw("cowrie", _login(2), "org-x").doc}
    bad["data"]["password"] = "changed after hashing"
    archive.collection.insert_one(bad)

    summary = _run_once(where, "--filter", "cowrie")

    assert summary["filters"]["cowrie"]["processed"] == 1
    assert summary["filters"]["cowrie"]["failed"] == 1
    assert [row["error"] for row in _failed_list(where)] == ["HashMismatch"]


# ---------------------------------------------------------------------------- item 3

BAD_FIELDS: list[dict[str, Any]] = [
    {"_ref": 5},
    {"_ref": "x"},
    {"_ref": {"a": 1}},
    {"_ref": None},
    {"_failed": "x"},
    {"_failed": 5},
    {"_failed": None},
    {"_failed": {COWRIE_ID: "x"}},
    {"_failed": {COWRIE_ID: {"attempts": "many", "version": 3}}},
    {"filters": "x"},
    {"filters": 5},
    {"filters": {"a": 1}},
    {"filters": None},
    {"_problems": "x"},
]


def test_bad_bookkeeping_fields_fail_or_repair_one_document_never_the_batch(
    archive: Archive, where: Where
) -> None:
    fine = [Raw("cowrie", _login(n, f"198.51.100.{n}"), "org-a") for n in range(5)]
    archive.insert_raw(fine)
    for number, fields in enumerate(BAD_FIELDS, start=10):
        doc = Raw("cowrie", _login(number, f"198.51.100.{number}"), "org-b").doc
        archive.collection.insert_one({**doc, **fields})
    for number, fields in enumerate(({"_failed": "x"}, {"filters": 5}, {"_problems": 1})):
        broken = Raw("cowrie", {"eventid": number}, "org-b").doc  # InputError: no such event
        archive.collection.insert_one({**broken, **fields})
    total = len(fine) + len(BAD_FIELDS) + 3
    assert isinstance(_failed_list(where), list)  # `_failed: {<id>: "x"}` does not crash it

    summary = _run_once(where, "--filter", "cowrie", "--batch-size", "50")

    stats = summary["filters"]["cowrie"]
    assert stats["processed"] + stats["failed"] + stats["skipped"] == total
    assert stats["processed"] >= len(fine) and stats["failed"] == 3
    status = _status(where)["cowrie"]
    assert (status["pending"], status["failed"]) == (0, 3)
    failed = _failed_list(where)
    assert len([row for row in failed if row["error"] == "InputError"]) == 3
    again = _run_once(where, "--filter", "cowrie")
    assert again["filters"]["cowrie"]["processed"] + again["filters"]["cowrie"]["failed"] == 0
    assert archive.collection.count_documents({"itype": "event"}) == stats["processed"]


# ---------------------------------------------------------------------------- item 4


def _feed(urls: int, length: int) -> str:
    path = "p" * (length - 40)
    return "".join(f"http://host{n}.example.org/{path}/{n}\n" for n in range(urls))


@pytest.mark.slow
def test_a_raw_document_near_16_mb_is_processed_and_later_filters_run(
    archive: Archive, where: Where, tmp_path: Path
) -> None:
    # 15.6 MB: 8,000 events and 16,000 attributes, whose 24,000 hashes (1.8 MB) in the
    # raw document's _ref would take it past 16 MB
    text = _feed(8_000, 1_950)
    assert 15_000_000 < len(text) < 15_800_000
    big = Raw("openphish_feed", {"data": text, "timestamp": 1763625600}, "org-feeds")
    later = Raw("cowrie", _login(1), "org-honeynet")
    archive.insert_raw([big, later])
    config = runner_config(tmp_path, batch_size=10)

    only = ("--filter", "openphish", "--filter", "cowrie")  # no correlation: minutes
    summary = _run_once(where, *only, config=config)

    openphish = summary["filters"]["openphish"]
    assert openphish["processed"] + openphish["failed"] == 1
    assert summary["filters"]["cowrie"]["processed"] == 1
    status = _status(where)
    assert status["openphish"]["pending"] == 0 and status["cowrie"]["pending"] == 0
    if openphish["processed"]:
        assert (
            archive.collection.count_documents({"itype": "event", "sub_type": "sighting"}) == 8000
        )
    again = _run_once(where, *only, config=config)
    assert sum(f["processed"] + f["failed"] for f in again["filters"].values()) == 0


# ---------------------------------------------------------------------------- item 8


def _kex(number: int, algorithms: int) -> dict[str, Any]:
    return {
        "eventid": "cowrie.client.kex",
        "session": f"{number:012x}",
        "src_ip": ATTACKER,
        "sensor": "sensor-a",
        "timestamp": "2026-11-20T08:15:00.000000Z",
        "hassh": "0" * 32,
        "hasshAlgorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none",
        "kexAlgs": [f"kex-{n}@example.org" for n in range(algorithms)],
        "keyAlgs": ["ssh-ed25519"],
        "encCS": ["aes128-ctr"],
        "macCS": ["hmac-sha2-256"],
        "compCS": ["none"],
    }


@pytest.mark.slow
def test_an_output_over_the_limit_fails_its_document_with_nothing_written(
    archive: Archive, where: Where
) -> None:
    huge = Raw("cowrie", _kex(1, 300_000), "org-honeynet")
    fine = Raw("cowrie", _login(2), "org-honeynet")
    archive.insert_raw([huge, fine])

    summary = _run_once(where, "--filter", "cowrie")

    assert summary["filters"]["cowrie"]["processed"] == 1
    assert summary["filters"]["cowrie"]["failed"] == 1
    (row,) = _failed_list(where)
    assert row["hash"] == huge._hash and row["error"] == "OutputTooLarge"
    assert "max_outputs" in row["message"]
    coll = archive.collection
    assert coll.count_documents({"itype": "attribute", "data": {"$regex": "^kex-"}}) == 0
    assert coll.count_documents({"itype": "event"}) == 1  # the login's


def test_outputs_beyond_the_limit_are_reported_as_problems(
    archive: Archive, where: Where, tmp_path: Path
) -> None:
    lines = "".join(f"http://host{n}.example.org/login\n" for n in range(30))
    feed = Raw("openphish_feed", {"data": lines, "timestamp": 1763625600}, "org-feeds")
    archive.insert_raw([feed])
    config = runner_config(tmp_path, max_outputs=30)  # each URL: event, url, domain

    summary = _run_once(where, "--filter", "openphish", config=config)

    stats = summary["filters"]["openphish"]
    assert (stats["processed"], stats["failed"]) == (1, 0)
    assert stats["problems"] >= 1
    coll = archive.collection
    stored = coll.count_documents({"itype": {"$ne": "raw"}})
    assert 0 < stored <= 30
    assert coll.count_documents({"itype": "event"}) == 10
