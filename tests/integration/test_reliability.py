"""Crash safety, database outages and many workers, with the real Cowrie plugin and the CLI."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from conftest import (
    cli,
    database,
    runner_config,
    start_cli,
    store_cowrie,
    summary_of,
)
from cybexp_core import Consumes
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.server import LocalServer
from cybexp_core.testing import snapshot

COWRIE_ID = "d2076b75-715e-4e4d-ae0a-a291cc6d90b7"
DOCUMENTS = 2500


COWRIE_INPUT = [Consumes.raw("cowrie")]


def _processed(archive: Archive) -> int:
    progress = archive.progress(COWRIE_ID, COWRIE_INPUT)
    return progress.processed + progress.skipped


def _wait_for(predicate, timeout: float = 300.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)


def test_kill_9_mid_batch_then_restart_equals_an_uninterrupted_run(
    archive: Archive, other_archive: Archive, mongo_uri: str, tmp_path: Path
) -> None:
    config = runner_config(tmp_path, lease_seconds=2, batch_size=200)
    for target in (archive, other_archive):
        store_cowrie(target, DOCUMENTS)
    reference = cli(mongo_uri, database(other_archive), "run", "--once", "--json", config=config)
    summary_of(reference)
    expected = snapshot(other_archive)

    kills = 0
    for threshold in (150, 900, 1700):  # kill three times, at different points of the backlog
        worker = start_cli(
            mongo_uri, database(archive), "run", "--batch-size", "200", config=config
        )
        _wait_for(lambda t=threshold, w=worker: _processed(archive) >= t or w.poll() is not None)
        time.sleep(0.3)  # land inside a batch rather than on its boundary
        worker.send_signal(signal.SIGKILL)
        worker.communicate()  # reap it and close its pipes
        kills += 1
    time.sleep(2.5)  # the dead workers' leases expire
    summary_of(cli(mongo_uri, database(archive), "run", "--once", "--json", config=config))
    actual = snapshot(archive)
    assert kills == 3
    assert actual.keys() == expected.keys(), "documents lost or extra"
    assert actual == expected
    hashes = [d["_hash"] for d in archive.collection.find({}, {"_hash": 1})]
    assert len(hashes) == len(set(hashes)), "duplicate _hash"


def test_server_stopped_and_restarted_under_a_running_worker(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "db", sync_on_commit=True).start()
    archive = Archive.connect(Settings(mongo_url=server.uri, db="outage"))
    archive.ensure_indexes()
    store_cowrie(archive, 1500)
    # Poll often when idle, so the outage is met even if the backlog is done before it.
    config = runner_config(tmp_path, max_idle=0.5)
    worker = start_cli(server.uri, "outage", "run", "--batch-size", "100", config=config)
    try:
        _wait_for(lambda: _processed(archive) >= 200)
        server.kill()  # the database crashes under the worker, for longer than the driver waits
        time.sleep(14)
        server = LocalServer(tmp_path / "db", port=server.port, sync_on_commit=True).start()
        _wait_for(
            lambda: (
                _processed(archive) + archive.progress(COWRIE_ID, COWRIE_INPUT).failed >= 1500
            ),
            timeout=600,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=120)
        archive.close()
    check = Archive.connect(Settings(mongo_url=server.uri, db="outage"))
    try:
        raws = check.collection.count_documents({"itype": "raw"})
        done = _processed(check)
        failed = len(list(check.failures(COWRIE_ID)))
        hashes = [d["_hash"] for d in check.collection.find({}, {"_hash": 1})]
    finally:
        check.close()
        server.stop()
    assert worker.returncode == 0, err[-2000:]
    assert (raws, done, failed) == (1500, 1500, 0), "transient errors never fail input"
    assert len(hashes) == len(set(hashes))
    assert err.count("database unavailable") == 1, err[-2000:]
    assert "database reachable again" in err


def test_two_and_four_workers_give_the_same_result_as_one(
    mongo_uri: str, tmp_path: Path, archive: Archive, other_archive: Archive
) -> None:
    config = runner_config(tmp_path, batch_size=100)
    store_cowrie(other_archive, DOCUMENTS)
    summary_of(cli(mongo_uri, database(other_archive), "run", "--once", "--json", config=config))
    expected = snapshot(other_archive)
    for workers in (2, 4):
        archive.collection.delete_many({})
        store_cowrie(archive, DOCUMENTS)
        started = time.monotonic()
        result = summary_of(
            cli(
                mongo_uri,
                database(archive),
                "run",
                "--once",
                "--json",
                "--workers",
                str(workers),
                config=config,
            )
        )
        elapsed = time.monotonic() - started
        counts = result["filters"]["cowrie"]
        assert counts["processed"] + counts["failed"] == DOCUMENTS, counts
        assert snapshot(archive) == expected, f"{workers} workers differ from one"
        print(f"{workers} workers: {DOCUMENTS / elapsed:.0f} documents/s")
