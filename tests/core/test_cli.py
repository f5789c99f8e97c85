"""The command line, through click's CliRunner, against a live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cybexp_core import plugins
from cybexp_core.backend import Archive
from cybexp_core.cli import cli
from fakes import entry_point

FAKES = [
    entry_point("ips", "fakes:ip_sightings"),
    entry_point("correlate", "fakes:ip_correlator"),
    entry_point("ghost", "no_such_module_xyz:plugin"),
]


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: FAKES)


@pytest.fixture
def invoke(archive: Archive, mongo_uri: str) -> Any:
    db = archive.collection.database.name

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            cli, ["--mongo-url", mongo_uri, "--db", db, *args], catch_exceptions=False
        )

    return run


def _jsonl(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "input.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_keeps_good_lines_and_reports_bad_ones(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = _jsonl(
        tmp_path,
        '{"ips": ["1.1.1.1"], "ts": 1}',
        "",
        "{broken",
        "[1, 2]",
        '{"$set": {"x": 1}}',
        '{"ips": ["2.2.2.2"], "ts": 2}',
    )
    result = invoke("ingest", "--sub-type", "demo", "--orgid", "org9", str(path))
    assert result.exit_code == 1
    assert "stored 2 raw documents" in result.output
    assert f"{path}:3: not JSON" in result.output
    assert f"{path}:4: a line must be a JSON object" in result.output
    assert f"{path}:5: data: key '$set'" in result.output
    assert archive.collection.count_documents({"itype": "raw", "orgid": "org9"}) == 2
    assert invoke("ingest", "--sub-type", "demo", str(path)).output.count("already stored") == 1


def test_ingest_file_format_splits_large_files(
    invoke: Any, tmp_path: Path, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cybexp_core import ingest

    monkeypatch.setattr(ingest, "MAX_CHUNK_BYTES", 100)
    path = tmp_path / "feed.csv"
    path.write_text("phish_id,url\n" + "".join(f"{i},http://x{i}.example/\n" for i in range(20)))
    assert invoke("ingest", "--sub-type", "feed", "--format", "file", str(path)).exit_code == 0
    parts = list(archive.collection.find({"itype": "raw"}).sort("data.part", 1))
    assert len(parts) > 1 and all(p["data"]["header"] == "phish_id,url" for p in parts)
    assert "".join(p["data"]["data"] for p in parts) == path.read_text()
    assert all(p["data"]["data"].endswith("\n") for p in parts)


def test_run_once_then_status_and_plugins(invoke: Any, tmp_path: Path) -> None:
    path = _jsonl(tmp_path, '{"ips": ["1.1.1.1", "2.2.2.2"], "ts": 1}', '{"bad": true}')
    invoke("ingest", "--sub-type", "demo", str(path))
    result = invoke("run", "--once", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["filters"]["ips"]["processed"] == 1
    assert summary["filters"]["ips"]["failed"] == 1
    assert summary["filters"]["correlate"]["processed"] == 2
    status = json.loads(invoke("status", "--json").stdout)
    by_name = {row["name"]: row for row in status["filters"]}
    assert by_name["ips"]["pending"] == 0
    assert (by_name["ips"]["processed"], by_name["ips"]["failed"]) == (1, 1)
    assert status["instances"]["event"] == 2 and status["instances"]["session"] == 2
    listing = json.loads(invoke("plugins", "--json").stdout)
    assert {f["name"] for f in listing["filters"]} == {"ips", "correlate"}
    assert listing["errors"][0]["name"] == "ghost"
    assert "ModuleNotFoundError" in listing["errors"][0]["error"]


def test_failed_list_show_and_retry(invoke: Any, tmp_path: Path, archive: Archive) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"bad": 1}', '{"crash": 1}')))
    invoke("run", "--once", "--filter", "ips")
    rows = json.loads(invoke("failed", "list", "--json").stdout)
    assert sorted(r["error"] for r in rows) == ["InputError", "RuntimeError"]
    only = json.loads(invoke("failed", "list", "--error", "InputError", "--json").stdout)
    assert len(only) == 1 and only[0]["message"] == "demo document without ips"
    shown = invoke("failed", "show", only[0]["hash"]).output
    assert '"bad": 1' in shown and "demo document without ips" in shown
    assert (
        "1 documents will be offered again"
        in invoke("failed", "retry", "--error", "InputError").output
    )
    assert json.loads(invoke("status", "--json").stdout)["filters"][1]["pending"] == 1
    assert invoke("failed", "retry").exit_code == 2  # says which


def test_run_filter_selection(invoke: Any, tmp_path: Path) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"ips": ["3.3.3.3"], "ts": 1}')))
    out = json.loads(invoke("run", "--once", "--json", "--filter", "fake-ips").stdout)
    assert list(out["filters"]) == ["ips"]
    result = invoke("run", "--once", "--filter", "nothing-like-this")
    assert result.exit_code == 1 and "no filter to run" in result.output


def test_unreachable_database_is_one_line_without_credentials() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--mongo-url",
            "mongodb://alice:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=300",
            "status",
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach MongoDB at mongodb://***@127.0.0.1:9/" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_bad_config_file_is_an_error_message(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{oops")
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert result.exit_code == 1 and "is not valid JSON" in result.output
