"""The command line, through click's CliRunner, against a live server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cybexp_core import Consumes, plugins
from cybexp_core.backend import Archive
from cybexp_core.cli import cli
from cybexp_core.owner import Owner
from fakes import entry_point

FAKES = [
    entry_point("ips", "fakes:ip_sightings"),
    entry_point("correlate", "fakes:ip_correlator"),
    entry_point("ghost", "no_such_module_xyz:plugin"),
]


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: FAKES)


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
    from cybexp_core import rawinput

    monkeypatch.setattr(rawinput, "MAX_CHUNK_BYTES", 100)
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
        "1 document will be offered again"
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
    # the whole reason, not cut mid-parenthesis
    assert "Connection refused (gave up after 0.3s)" in result.output
    assert result.output.count("(") == result.output.count(")")


def test_bad_config_file_is_an_error_message(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{oops")
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert result.exit_code == 1 and "is not valid JSON" in result.output


def _config(tmp_path: Path, value: object) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(value))
    return str(path)


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://admin:Pass XYZ@127.0.0.1:9/?serverSelectionTimeoutMS=200",
        "mongodb://admin:Pass/XYZ@127.0.0.1:9/",
        "mongodb://admin:PassXYZ@127.0.0.1:99999/",
    ],
)
def test_a_password_is_never_printed_and_never_a_traceback(url: str) -> None:
    result = CliRunner().invoke(cli, ["--mongo-url", url, "status"])
    assert result.exit_code == 1
    assert "Pass" not in result.output and "XYZ" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1


def test_the_url_can_come_from_a_file_or_its_variable(
    archive: Archive, mongo_uri: str, tmp_path: Path
) -> None:
    url_file = tmp_path / "mongo-url"
    url_file.write_text(mongo_uri + "\n")
    db = archive.collection.database.name
    by_option = CliRunner().invoke(cli, ["--mongo-url-file", str(url_file), "--db", db, "status"])
    assert by_option.exit_code == 0, by_option.output
    assert "instances: raw 0" in by_option.output
    by_env = CliRunner().invoke(
        cli, ["--db", db, "status"], env={"CYBEXP_MONGO_URL_FILE": str(url_file)}
    )
    assert by_env.exit_code == 0 and "embedded" not in by_env.output
    beaten = CliRunner().invoke(
        cli,
        ["--mongo-url", mongo_uri, "--db", db, "status"],
        env={"CYBEXP_MONGO_URL_FILE": str(tmp_path / "missing")},
    )
    assert beaten.exit_code == 0, beaten.output  # the command line wins over the variable
    both = CliRunner().invoke(
        cli, ["status"], env={"CYBEXP_MONGO_URL_FILE": str(url_file), "CYBEXP_MONGO_URL": mongo_uri}
    )
    assert both.exit_code == 1 and "not both" in both.output


def test_run_refuses_to_start_when_a_filter_refuses_its_settings(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"ips": ["1.1.1.1"], "ts": 1}')))
    config = _config(tmp_path, {"filters": {"ips": {"sub_type": 5}}})
    result = invoke("--config", config, "run", "--once")
    assert result.exit_code == 1
    assert "no work started" in result.output
    assert "filters.ips: refused its settings: PluginError: setting sub_type must be a string" in (
        result.output
    )
    assert archive.collection.count_documents({"itype": "event"}) == 0


def test_settings_for_a_filter_that_is_not_installed_are_refused(
    invoke: Any, tmp_path: Path
) -> None:
    config = _config(tmp_path, {"filters": {"ipz": {}}})
    result = invoke("--config", config, "status")
    assert result.exit_code == 1
    assert f"{config}: filters.ipz: no installed filter plugin" in result.output
    assert "(did you mean 'ips'?)" in result.output


def test_plugins_says_which_failed_at_import_with_its_traceback(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [FAKES[0], entry_point("broken", "broken_at_import:plugin")]
    monkeypatch.setattr(plugins, "entry_points", lambda group: broken)
    text = invoke("plugins")
    assert text.exit_code == 1
    assert "NOT LOADED broken: failed at import: KeyError: " in text.output
    assert "Traceback" not in text.output
    verbose = invoke("plugins", "-v")
    assert "Traceback (most recent call last)" in verbose.output
    assert "broken_at_import.py" in verbose.output
    listing = json.loads(invoke("plugins", "--json").stdout)
    [error] = listing["errors"]
    assert error["stage"] == "import" and "broken_at_import.py" in error["traceback"]


def test_plugins_exits_zero_when_everything_loaded(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: FAKES[:2])
    assert invoke("plugins").exit_code == 0


def test_check_validates_connects_and_loads(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("check")
    assert result.exit_code == 1
    assert "database: " in result.output and "reachable" in result.output
    assert "NOT LOADED ghost: failed at import: ModuleNotFoundError" in result.output
    monkeypatch.setattr(plugins, "entry_points", lambda group: FAKES[:2])
    good = invoke("check")
    assert good.exit_code == 0, good.output
    assert "plugins: 2 loaded, 0 not loaded" in good.output and good.output.endswith("ok\n")


def test_check_fails_on_an_unreachable_database() -> None:
    result = CliRunner().invoke(
        cli, ["check", "--mongo-url", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200"]
    )
    assert result.exit_code == 1 and "cannot reach MongoDB" in result.output


def test_global_options_also_follow_the_command(
    archive: Archive, mongo_uri: str, tmp_path: Path
) -> None:
    db = archive.collection.database.name
    path = _jsonl(tmp_path, '{"ips": ["1.1.1.1"], "ts": 1}')
    runner = CliRunner()
    stored = runner.invoke(
        cli, ["ingest", "--sub-type", "demo", str(path), "--mongo-url", mongo_uri, f"--db={db}"]
    )
    assert stored.exit_code == 0, stored.output
    assert archive.collection.count_documents({"itype": "raw"}) == 1
    listed = runner.invoke(cli, ["failed", "list", "--db", db, "-v", "--mongo-url", mongo_uri])
    assert listed.exit_code == 0, listed.output
    assert "0 failed documents" in listed.output


def test_h_is_help_everywhere() -> None:
    for args in (["-h"], ["run", "-h"], ["failed", "list", "-h"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and result.output.startswith("Usage:"), args
    assert "--mongo-url-file" in CliRunner().invoke(cli, ["-h"]).output


def test_failed_commands_take_the_prefixes_failed_list_prints(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"bad": 1}')))
    invoke("run", "--once", "--filter", "ips")
    listing = invoke("failed", "list").output
    assert "failed after 1 attempt " in listing and listing.endswith("1 failed document\n")
    prefix = listing.split()[0]
    assert len(prefix) == 16
    shown = invoke("failed", "show", prefix)
    assert shown.exit_code == 0 and "demo document without ips" in shown.output
    [row] = json.loads(invoke("failed", "list", "--json").stdout)
    assert "T" in row["time"] and row["time"].endswith("+00:00")
    stored_time = json.loads(shown.stdout)["_failed"]["fake-ips"]["time"]
    assert "T" in stored_time and " " not in stored_time
    retried = invoke("failed", "retry", prefix[:8])
    assert retried.exit_code == 0 and "1 document will be offered again" in retried.output
    again = invoke("failed", "retry", prefix[:8])
    assert again.exit_code == 1 and "no failed document matched" in again.output


def test_a_prefix_that_is_ambiguous_short_or_unknown_is_refused(
    invoke: Any, archive: Archive
) -> None:
    archive.collection.insert_many(
        [{"itype": "raw", "_hash": "abcdef01" + tail * 56} for tail in "01"]
    )
    ambiguous = invoke("failed", "show", "ABCDEF01")
    assert ambiguous.exit_code == 1 and "ambiguous" in ambiguous.output
    assert invoke("failed", "show", "abcdef010").exit_code == 0
    short = invoke("failed", "show", "abcdef0")
    assert short.exit_code == 1 and "8 to 64 hexadecimal characters" in short.output
    missing = invoke("failed", "retry", "0123456789abcdef")
    assert missing.exit_code == 1 and "no document has a _hash starting with" in missing.output


def test_failed_show_names_its_argument_hash() -> None:
    usage = CliRunner().invoke(cli, ["failed", "show", "-h"]).output
    assert "show [OPTIONS] HASH\n" in usage and "HASH_" not in usage


def test_run_once_exits_3_when_a_live_worker_elsewhere_holds_work(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"ips": ["4.4.4.4"], "ts": 1}')))
    leases = archive.leases
    key = leases.key("fake-ips", Consumes.raw("demo"))
    elsewhere = Owner("w-remote", "some-other-host", 4242, "boot:1")
    claim = leases.claim(
        key,
        {"itype": "raw", "sub_type": "demo"},
        token="remote",
        owner=elsewhere,
        limit=10,
        lease_seconds=600,
    )
    assert claim is not None and len(claim.docs) == 1
    result = invoke("run", "--once", "--filter", "ips")
    assert result.exit_code == 3
    assert "1 documents leased by some-other-host/4242 until" in result.stderr


JSON_REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "json-output.md"


def _json_paths(value: object, prefix: str = "") -> set[str]:
    """Dotted paths of the leaves of ``value``; ``[]`` for list items."""
    if isinstance(value, dict) and value:
        dotted = f"{prefix}." if prefix else ""
        return set().union(*(_json_paths(v, f"{dotted}{k}") for k, v in value.items()))
    if isinstance(value, list) and value:
        return set().union(*(_json_paths(item, f"{prefix}[]") for item in value))
    return {prefix}


def _documented(heading: str) -> list[str]:
    text = JSON_REFERENCE.read_text()
    body = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in body.splitlines() if line.startswith("| `")]


def test_json_output_reference_matches_real_output(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    invoke(
        "ingest",
        "--sub-type",
        "demo",
        str(_jsonl(tmp_path, '{"ips": ["1.1.1.1"], "ts": 1}', '{"bad": 1}', '{"skip": 1}')),
    )
    invoke("ingest", "--sub-type", "dmeo", str(_jsonl(tmp_path, '{"ips": [], "ts": 2}')))
    outputs = {
        "run --once --json": invoke("run", "--once", "--json").stdout,
        "status --json": invoke("status", "--json").stdout,
        "plugins --json": invoke("plugins", "--json").stdout,
        "failed list --json": invoke("failed", "list", "--json").stdout,
    }
    for heading, output in outputs.items():
        documented = _documented(heading)
        patterns = [re.escape(d).replace("<name>", "[^.]+") for d in documented]
        real = _json_paths(json.loads(output))
        undocumented = {p for p in real if not any(re.fullmatch(x, p) for x in patterns)}
        assert not undocumented, f"{heading}: not in docs/json-output.md: {undocumented}"
        unseen = [
            d
            for d, x in zip(documented, patterns, strict=True)
            if not any(re.fullmatch(x, p) for p in real)
        ]
        assert not unseen, f"{heading}: documented but not in the output: {unseen}"


def test_run_text_uses_the_json_words(invoke: Any, tmp_path: Path) -> None:
    invoke("ingest", "--sub-type", "demo", str(_jsonl(tmp_path, '{"skip": 1}')))
    text = invoke("run", "--once").output
    assert "skipped 1" in text and "not for it" not in text
    words = set(json.loads(invoke("run", "--once", "--json").stdout)["filters"]["ips"])
    for word in words - {"batches"}:
        assert f"{word} " in text, word
