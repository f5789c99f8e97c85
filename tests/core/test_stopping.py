"""``run`` as a real process: stopping on time, exit codes, worker restarts, orphans."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from cli_process import (
    CLI,
    alive,
    children_of,
    run_cli,
    start_cli,
    stderr_of,
    wait_for,
    write_jsonl,
)
from cybexp_core.server import LocalServer, free_port

pytestmark = pytest.mark.skipif(not Path(CLI).exists(), reason="console script not installed")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A pinned embedded server for the test's commands, and short leases."""
    (tmp_path / "config.json").write_text(json.dumps({"runner": {"lease_seconds": 2}}))
    assert run_cli(tmp_path, "server", "start").returncode == 0
    try:
        yield tmp_path
    finally:
        run_cli(tmp_path, "server", "stop")


def _ingest_slow(tmp_path: Path, count: int, sleep: float) -> None:
    rows = [{"ip": f"10.1.{n // 250}.{n % 250}", "ts": n, "sleep": sleep} for n in range(count)]
    result = run_cli(
        tmp_path, "ingest", "--sub-type", "slow", str(write_jsonl(tmp_path / "s.jsonl", rows))
    )
    assert result.returncode == 0, result.stderr


def _status(tmp_path: Path) -> dict[str, dict[str, int]]:
    result = run_cli(tmp_path, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)["filters"]}


def test_sigterm_during_a_large_batch_stops_within_the_timeout_and_loses_nothing(
    served: Path,
) -> None:
    _ingest_slow(served, 150, 0.1)  # one batch of 15 s
    daemon = start_cli(served, "-v", "run", "--filter", "slow", "--stop-timeout", "3")
    wait_for(lambda: "daemon started" in stderr_of(daemon), "the daemon did not start")
    time.sleep(3)  # in the middle of the batch
    sent = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(30)
    took = time.monotonic() - sent
    log = stderr_of(daemon)
    assert took < 3 + 2, f"stopped in {took:.1f}s; log:\n{log}"
    assert code in (0, 124), log
    assert "SIGTERM: stopping; waiting for" in log
    time.sleep(2.5)  # the lease of the unfinished part ends
    again = run_cli(served, "run", "--once", "--filter", "slow", "--stop-timeout", "60")
    assert again.returncode == 0, again.stderr
    assert _status(served)["slow"]["pending"] == 0
    assert _status(served)["slow"]["processed"] == 150


def test_past_the_stop_timeout_the_lease_is_given_back_before_the_exit(served: Path) -> None:
    """A document that outlasts the stop timeout: exit 124 on time, and its lease is free at
    once for a worker on any host (not after ``lease_seconds``)."""
    (served / "config.json").write_text(json.dumps({"runner": {"lease_seconds": 600}}))
    _ingest_slow(served, 1, 20.0)
    daemon = start_cli(served, "-v", "run", "--filter", "slow", "--stop-timeout", "2")
    uri = json.loads(run_cli(served, "server", "status", "--json").stdout)["uri"]
    client: MongoClient = MongoClient(uri)
    try:
        state = client["tahoe_db"]["cybexp_state"]
        wait_for(lambda: state.find_one({"leases.0": {"$exists": True}}), "nothing claimed")
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 124, stderr_of(daemon)
        assert time.monotonic() - sent < 2 + 1.5
        assert "gave back the lease on" in stderr_of(daemon)
        [lease] = state.find_one({"leases.0": {"$exists": True}})["leases"]
        assert lease["until"] < time.time(), "the lease is free now, not in 600 s"
    finally:
        client.close()


def test_an_interrupted_run_once_exits_130_and_a_second_signal_exits_at_once(
    served: Path,
) -> None:
    # Documents of 4 s: the runner stops between documents, so one is in hand at each signal.
    _ingest_slow(served, 10, 4.0)
    once = start_cli(served, "-v", "run", "--once", "--filter", "slow", "--stop-timeout", "60")
    wait_for(lambda: "started (pid" in stderr_of(once), "run --once did not start")
    time.sleep(2)
    once.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert once.poll() is None, "the first signal lets the document in hand finish"
    sent = time.monotonic()
    once.send_signal(signal.SIGINT)
    assert once.wait(10) == 130
    assert time.monotonic() - sent < 3
    assert "SIGINT again: exiting now" in stderr_of(once)


def test_an_interrupted_run_once_that_finishes_its_batch_exits_130(served: Path) -> None:
    _ingest_slow(served, 30, 0.1)
    once = start_cli(served, "-v", "run", "--once", "--filter", "slow", "--batch-size", "10")
    wait_for(lambda: "started (pid" in stderr_of(once), "run --once did not start")
    time.sleep(1.5)
    once.send_signal(signal.SIGINT)
    assert once.wait(30) == 130, stderr_of(once)
    assert _status(served)["slow"]["pending"] > 0, "it stopped before the end"


def test_sighup_is_ignored_and_logged(served: Path) -> None:
    daemon = start_cli(served, "-v", "run", "--filter", "ips")
    try:
        wait_for(lambda: "daemon started" in stderr_of(daemon), "the daemon did not start")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert "SIGHUP ignored" in stderr_of(daemon)


def _workers(parent: int, count: int) -> list[int]:
    """The ``count`` worker processes of the pool ``parent`` (not its helper processes)."""
    found: list[int] = []

    def ready() -> bool:
        found[:] = [
            pid
            for pid in children_of(parent)
            if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        return len(found) == count

    wait_for(ready, f"{count} workers did not start", 60)
    return list(found)


def test_a_killed_worker_is_restarted_and_reported(served: Path) -> None:
    pool = start_cli(served, "run", "--workers", "2", "--filter", "ips")
    try:
        first = _workers(pool.pid, 2)
        time.sleep(3)
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: first[0] not in children_of(pool.pid), "the worker did not die", 10)
        after = _workers(pool.pid, 2)
        assert first[1] in after and first[0] not in after, "a new worker took the dead one's place"
        rows = [{"ips": ["10.2.0.1"], "ts": 1}]
        ingested = run_cli(
            served, "ingest", "--sub-type", "demo", str(write_jsonl(served / "d.jsonl", rows))
        )
        assert ingested.returncode == 0
        wait_for(lambda: _status(served)["ips"]["processed"] == 1, "the pool stopped working", 60)
    finally:
        pool.send_signal(signal.SIGTERM)
        code = pool.wait(60)
    log = stderr_of(pool)
    assert "died (killed by SIGKILL); restarting it" in log
    assert code == 1, "a run in which a worker died exits non-zero"


def test_kill_9_of_the_pool_parent_leaves_no_worker_running(served: Path) -> None:
    pool = start_cli(
        served, "-v", "run", "--workers", "2", "--filter", "ips", "--stop-timeout", "5"
    )
    workers = _workers(pool.pid, 2)
    wait_for(lambda: stderr_of(pool).count("daemon started") == 2, "the workers did not start")
    pool.kill()
    pool.wait()
    wait_for(lambda: not any(alive(pid) for pid in workers), "orphan workers still run", 15)


def test_the_daemon_waits_for_a_database_that_is_down_at_start(tmp_path: Path) -> None:
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300"
    daemon = start_cli(tmp_path, "--mongo-url", url, "run", "--filter", "ips")
    server = None
    try:
        time.sleep(5)
        assert daemon.poll() is None, "the daemon waits instead of exiting"
        server = LocalServer(tmp_path / "db", port=port, sync_on_commit=False).start()
        rows = [{"ips": ["10.3.0.1"], "ts": 1}]
        path = write_jsonl(tmp_path / "d.jsonl", rows)
        assert (
            run_cli(
                tmp_path, "--mongo-url", url, "ingest", "--sub-type", "demo", str(path)
            ).returncode
            == 0
        )

        def processed() -> bool:
            status = run_cli(tmp_path, "--mongo-url", url, "status", "--json")
            rows = {row["name"]: row for row in json.loads(status.stdout)["filters"]}
            return rows["ips"]["processed"] == 1

        wait_for(processed, "the daemon did not start when the database came up", 90)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        if server is not None:
            server.stop()
    log = stderr_of(daemon)
    assert log.count("database unreachable at start") == 1, log
    assert "database reachable; starting" in log
    assert code == 0
