"""With nothing configured, the CLI runs on a lasting local server of the data directory."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pymongo import MongoClient

from cli_process import CLI, run_cli, servers_on, start_cli, stderr_of, wait_for

pytestmark = pytest.mark.skipif(not Path(CLI).exists(), reason="console script not installed")


def _raw_count(tmp_path: Path) -> int:
    result = run_cli(tmp_path, "status", "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["instances"]["raw"])


def test_embedded_server_starts_keeps_data_and_stops(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text('{"eventid": "cowrie.session.connect", "session": "a1"}\n')
    first = run_cli(tmp_path, "ingest", "--sub-type", "cowrie", str(source))
    assert first.returncode == 0, first.stderr
    assert f"data in {tmp_path / 'data'}, log {tmp_path / 'data' / 'server.log'}" in first.stderr
    assert not (tmp_path / "data" / "server.json").exists(), "the last user stopped the server"
    assert servers_on(tmp_path / "data") == []
    assert _raw_count(tmp_path) == 1


def _processed(tmp_path: Path) -> int:
    result = run_cli(tmp_path, "status", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["filters"]}
    return int(rows["ips"]["processed"])


def test_a_daemon_keeps_its_database_when_the_command_that_started_it_exits(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    starter = start_cli(tmp_path, "run", env={"CYBEXP_TEST": "starter"})
    try:
        wait_for(lambda: (data / "server.json").exists(), "the first command started no server")
        daemon = start_cli(tmp_path, "-v", "run")
        try:
            wait_for(lambda: "daemon started" in stderr_of(daemon), "no second daemon")
            starter.send_signal(signal.SIGTERM)
            assert starter.wait(60) == 0
            source = tmp_path / "demo.jsonl"
            source.write_text('{"ips": ["10.0.0.1"], "ts": 1}\n')
            assert run_cli(tmp_path, "ingest", "--sub-type", "demo", str(source)).returncode == 0
            wait_for(lambda: _processed(tmp_path) == 1, "the remaining daemon lost its database")
            assert daemon.poll() is None
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, stderr_of(daemon)
    finally:
        if starter.poll() is None:
            starter.kill()
    assert "database unavailable" not in stderr_of(daemon)
    wait_for(lambda: not servers_on(data), "the last user did not stop the server")
    assert not (data / "server.json").exists()


def test_two_commands_racing_to_start_it_share_one_server(tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_cli(tmp_path, "server", "start"), range(2)))
    try:
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        first, second = (r.stdout.splitlines()[0] for r in results)
        assert first == second, "both commands report the same server"
        assert len(servers_on(tmp_path / "data")) == 1
        assert run_cli(tmp_path, "server", "status").returncode == 0
    finally:
        stopped = run_cli(tmp_path, "server", "stop")
    assert stopped.stdout.startswith("stopped mongodb://127.0.0.1:")
    assert servers_on(tmp_path / "data") == []
    assert run_cli(tmp_path, "server", "status").returncode == 3


def test_a_killed_servers_state_file_is_detected_and_replaced(tmp_path: Path) -> None:
    started = run_cli(tmp_path, "server", "start")
    assert started.returncode == 0, started.stderr
    state = json.loads((tmp_path / "data" / "server.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)
    wait_for(lambda: state["pid"] not in servers_on(tmp_path / "data"), "kill -9 failed")
    try:
        assert _raw_count(tmp_path) == 0, "a new server was started on the same files"
        status = run_cli(tmp_path, "server", "status", "--json")
        assert status.returncode == 3, "the command's own server stopped when it exited"
    finally:
        run_cli(tmp_path, "server", "stop")
    assert servers_on(tmp_path / "data") == []


def test_a_pinned_server_keeps_data_across_commands(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "server", "start").returncode == 0
    try:
        source = tmp_path / "demo.jsonl"
        source.write_text('{"ips": ["10.0.0.2"], "ts": 2}\n')
        assert run_cli(tmp_path, "ingest", "--sub-type", "demo", str(source)).returncode == 0
        status = json.loads(run_cli(tmp_path, "server", "status", "--json").stdout)
        assert status["running"] and status["data"] == str(tmp_path / "data" / "db")
        # SecantusDB's retryable-write bookkeeping makes every write slower than the last
        # (docs/operators.md): the embedded URL turns retryable writes off.
        assert MongoClient(status["uri"], connect=False).options.retry_writes is False
        once = run_cli(tmp_path, "run", "--once")
        assert once.returncode == 0, once.stderr
        assert "2 documents" in once.stdout, "the raw document and its chained event"
    finally:
        run_cli(tmp_path, "server", "stop")
