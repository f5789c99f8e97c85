"""``ingest``: compressed files, standard input, ``--format json``, mbox, dead sensors'
files, and what it tells the user before storing (issues 16 and 18), against a live server."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cybexp_core import plugins, rawinput
from cybexp_core.backend import Archive
from cybexp_core.cli import cli
from fakes import entry_point

LINES = b'{"ips": ["192.0.2.1"], "ts": 1}\n{"ips": ["192.0.2.2"], "ts": 2}\n'
WAZUH_ALERT = """{
  "timestamp": "2026-03-20T10:00:00.000+0000",
  "rule": {"level": 5, "id": "100201", "description": "cowrie login"},
  "agent": {"id": "001", "name": "sensor-1"},
  "full_log": "{\\"eventid\\": \\"cowrie.login.failed\\", \\"src_ip\\": \\"192.0.2.7\\"}",
  "ips": ["192.0.2.7"],
  "ts": 3
}
"""
MBOX = """From alice@example.org Sat Mar 21 10:00:00 2026
From: alice@example.org
Subject: one

first body

From bob@example.net Sat Mar 21 11:00:00 2026
From: bob@example.net
Subject: two

second body
"""


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = [entry_point("ips", "fakes:ip_sightings")]
    monkeypatch.setattr(plugins, "entry_points", lambda group: fakes)


@pytest.fixture
def invoke(archive: Archive, mongo_uri: str) -> Any:
    db = archive.collection.database.name

    def run(*args: str, input: bytes | None = None) -> Result:
        return CliRunner().invoke(cli, ["--mongo-url", mongo_uri, "--db", db, *args], input=input)

    return run


def _raws(archive: Archive) -> list[dict[str, Any]]:
    return list(archive.collection.find({"itype": "raw"}, {"_id": 0}).sort("_hash", 1))


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
@pytest.mark.parametrize("fmt", ["jsonl", "file"])
def test_compressed_files_are_read_as_their_content(
    invoke: Any, tmp_path: Path, archive: Archive, compress: Any, fmt: str
) -> None:
    plain = tmp_path / "feed.jsonl"
    plain.write_bytes(LINES)
    packed = tmp_path / "feed.jsonl.download"  # told by its first bytes, not its name
    packed.write_bytes(compress(LINES))
    assert invoke("ingest", "--sub-type", "demo", "--format", fmt, str(plain)).exit_code == 0
    expected = _raws(archive)
    archive.collection.delete_many({})
    result = invoke("ingest", "--sub-type", "demo", "--format", fmt, str(packed))
    assert result.exit_code == 0, result.output
    assert _raws(archive) == expected and len(expected) == (2 if fmt == "jsonl" else 1)


def test_a_file_that_is_not_text_is_one_clear_error(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    binary = tmp_path / "sensor.jsonl"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    zipped = tmp_path / "feed.zip"
    zipped.write_bytes(b"PK\x03\x04\x14\x00\x00\x00" + bytes(100))
    good = tmp_path / "good.jsonl"
    good.write_bytes(LINES)
    result = invoke("ingest", "--sub-type", "demo", str(binary), str(zipped), str(good))
    assert result.exit_code == 1
    assert f"error: {binary}: the content is not text" in result.output
    assert f"error: {zipped}: a zip archive: unzip it" in result.output
    assert "Traceback" not in result.output
    assert "stored 2 raw documents" in result.output and "2 files not read" in result.output


def test_a_dead_sensors_last_lines_are_one_bad_line_each(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "cowrie.json"
    path.write_bytes(LINES + b"\x00" * 300 + b"\n" + b'{"ips": ["192.0.2.3"], "t')
    result = invoke("ingest", "--sub-type", "demo", str(path))
    assert "stored 2 raw documents" in result.output
    assert f"{path}:3: NUL bytes in the line" in result.output
    assert f"{path}:4: truncated last line" in result.output
    assert result.output.count("bad line:") == 2 and "Traceback" not in result.output


def test_format_json_reads_a_pretty_document_and_an_array(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    alert = tmp_path / "alert.json"
    alert.write_text(WAZUH_ALERT)
    array = tmp_path / "alerts.json"
    array.write_text(
        json.dumps([json.loads(WAZUH_ALERT), {"ips": ["192.0.2.9"], "ts": 4}], indent=2)
    )
    result = invoke("ingest", "--sub-type", "demo", "--format", "json", str(alert), str(array))
    assert result.exit_code == 0, result.output
    assert "stored 2 raw documents (1 already stored)" in result.output
    stored = {raw["data"]["ts"]: raw["data"] for raw in _raws(archive)}
    assert stored[3]["rule"]["id"] == "100201" and stored[4]["ips"] == ["192.0.2.9"]


def test_format_json_keeps_what_precedes_a_truncation(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "cut.json"
    path.write_text('[{"ips": ["192.0.2.1"], "ts": 1},\n {"ips": ["192.0.2.2"], "ts": 2},\n {"ips"')
    result = invoke("ingest", "--sub-type", "demo", "--format", "json", str(path))
    assert result.exit_code == 1
    assert "stored 2 raw documents" in result.output
    assert f"{path}:3: truncated or invalid JSON" in result.output


def test_an_mbox_is_one_raw_per_message(invoke: Any, tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "spam.mbox"
    path.write_text(MBOX)
    result = invoke("ingest", "--sub-type", "email", "--format", "file", str(path))
    assert result.exit_code == 0, result.output
    texts = sorted(raw["data"]["data"] for raw in _raws(archive))
    assert len(texts) == 2
    assert texts[0].startswith("From: alice@example.org\n") and "second body" not in texts[0]
    assert texts[1].startswith("From: bob@example.net\n") and texts[1].endswith("second body\n")


def test_standard_input(invoke: Any, archive: Archive) -> None:
    result = invoke("ingest", "--sub-type", "demo", "-", input=gzip.compress(LINES))
    assert result.exit_code == 0, result.output
    assert sorted(raw["data"]["ts"] for raw in _raws(archive)) == [1, 2]


def test_timestamp_with_json_lines_is_refused(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(LINES)
    result = invoke("ingest", "--sub-type", "demo", "--timestamp", "1700000000", str(path))
    assert result.exit_code == 2
    assert "--timestamp is for --format file" in result.output
    assert _raws(archive) == []


def test_a_sub_type_nobody_reads_is_stored_with_a_warning(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(LINES)
    result = invoke("ingest", "--sub-type", "dmeo", str(path))
    assert result.exit_code == 0
    assert "warning: no loaded filter reads raw sub_type 'dmeo'" in result.output
    assert "Sub_types read: demo" in result.output
    assert len(_raws(archive)) == 2
    assert "warning" not in invoke("ingest", "--sub-type", "demo", str(path)).output


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        ("Received: from mx.example\nFrom: a@example.org\nSubject: hi\n\nbody\n", "--format file"),
        (WAZUH_ALERT, "--format json"),
        ("phish_id,url\n1,http://x.example/\n", "--format file"),
    ],
)
def test_an_obvious_format_mismatch_says_which_format(
    invoke: Any, tmp_path: Path, archive: Archive, content: str, hint: str
) -> None:
    path = tmp_path / "input.eml"
    path.write_text(content)
    result = invoke("ingest", "--sub-type", "demo", str(path))
    assert result.exit_code == 2 and f"use {hint}" in result.output
    assert _raws(archive) == []
    forced = invoke("ingest", "--sub-type", "demo", "--force", str(path))
    assert "bad line" in forced.output


def test_input_every_reader_refuses_is_not_stored(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text("".join(json.dumps({"bad": n}) + "\n" for n in range(162)))
    result = invoke("ingest", "--sub-type", "demo", str(path))
    assert result.exit_code == 2
    assert "the first 5 documents all fail (ips: demo document without ips)" in result.output
    assert _raws(archive) == []
    assert (
        "stored 162 raw documents"
        in invoke("ingest", "--sub-type", "demo", "--force", str(path)).output
    )


def test_a_big_json_dump_is_split_between_records(
    invoke: Any, tmp_path: Path, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rawinput, "MAX_CHUNK_RECORDS", 3)
    records = [
        {"phish_id": n, "url": f"http://x{n}.example/", "details": [{"ip": "192.0.2.1"}]}
        for n in range(10)
    ]
    path = tmp_path / "online-valid.json.gz"
    path.write_bytes(gzip.compress(json.dumps(records, indent=1).encode()))
    result = invoke("ingest", "--sub-type", "feed", "--format", "file", str(path))
    assert result.exit_code == 0, result.output
    parts = sorted((raw["data"] for raw in _raws(archive)), key=lambda d: d["part"])
    assert [p["part"] for p in parts] == [1, 2, 3, 4] and {p["parts"] for p in parts} == {4}
    assert [r for p in parts for r in json.loads(p["data"])] == records  # no record cut


def test_a_big_text_file_is_split_by_lines_too(
    invoke: Any, tmp_path: Path, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rawinput, "MAX_CHUNK_RECORDS", 4)
    path = tmp_path / "feed.txt"
    path.write_text("".join(f"http://x{n}.example/\n" for n in range(10)))
    assert invoke("ingest", "--sub-type", "feed", "--format", "file", str(path)).exit_code == 0
    parts = sorted((raw["data"] for raw in _raws(archive)), key=lambda d: d["part"])
    assert [p["data"].count("\n") for p in parts] == [4, 4, 2]
    assert "".join(p["data"] for p in parts) == path.read_text()


def test_status_lists_raw_documents_nobody_reads(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(LINES)
    invoke("ingest", "--sub-type", "dmeo", str(path))
    invoke("ingest", "--sub-type", "demo", str(path))
    status = json.loads(invoke("status", "--json").stdout)
    assert status["unread"] == {"dmeo": 2}
    assert "raw documents no loaded filter reads: dmeo 2" in invoke("status").output
