"""The census of instance counts behind ``status`` (issue 13), on a live server."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring

from cybexp_core import Raw, census, plugins
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from fakes import entry_point

FAKES = [entry_point("ips", "fakes:ip_sightings"), entry_point("correlate", "fakes:ip_correlator")]


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: FAKES)


def _lines(tmp_path: Path, ips: list[str], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"ips": [ip], "ts": n}) + "\n" for n, ip in enumerate(ips)))
    return path


def _status(invoke: Any, *options: str) -> dict[str, Any]:
    result = invoke("status", "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _exact(archive: Archive) -> dict[str, int]:
    itypes = ("raw", "attribute", "object", "event", "session")
    return {i: archive.collection.count_documents({"itype": i}) for i in itypes}


def test_counts_are_right_after_ingest_and_run(
    invoke: Any, tmp_path: Path, archive: Archive
) -> None:
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1", "2.2.2.2"])))
    assert _status(invoke)["instances"]["raw"] == 2
    assert invoke("run", "--once").exit_code == 0
    status = _status(invoke)
    assert status["instances"] == _exact(archive)
    assert status["instances"]["event"] == 2 and status["instances"]["session"] == 2
    assert status["instances_from"] == "census"
    listed = {(p["itype"], p["sub_type"]) for p in archive.census.read()["pairs"]}
    assert {("raw", "demo"), ("event", "sighting"), ("session", "by_ip")} <= listed


def test_documents_stored_after_the_census_counted_are_added(
    invoke: Any, tmp_path: Path, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(census, "SETTLE_SECONDS", 0.0)
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1", "2.2.2.2"])))
    invoke("run", "--once")
    time.sleep(1.1)  # past the second the census counts up to
    assert _status(invoke)["instances"]["raw"] == 2
    [raw] = [p for p in archive.census.read()["pairs"] if p["sub_type"] == "demo"]
    assert raw["count"] == 2, "the settled documents' count is stored, not counted again"
    time.sleep(1.1)
    more = _lines(tmp_path, ["3.3.3.3", "4.4.4.4", "5.5.5.5"], "more.jsonl")
    invoke("ingest", "--sub-type", "demo", str(more))
    invoke("run", "--once")
    status = _status(invoke)
    assert status["instances"] == _exact(archive)
    assert status["instances"]["raw"] == 5 and status["instances"]["event"] == 5


def test_a_new_sub_type_shows_up(invoke: Any, tmp_path: Path, archive: Archive) -> None:
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1"])))
    assert _status(invoke)["unread"] == {}
    invoke("ingest", "--sub-type", "dmeo", str(_lines(tmp_path, ["6.6.6.6", "7.7.7.7"], "x")))
    status = _status(invoke)
    assert status["unread"] == {"dmeo": 2} and status["instances"]["raw"] == 3
    assert "raw documents no loaded filter reads: dmeo 2" in invoke("status").output


def test_recount_fixes_a_count_after_deletions(
    invoke: Any, tmp_path: Path, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(census, "SETTLE_SECONDS", 0.0)
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1", "2.2.2.2", "3.3"])))
    invoke("ingest", "--sub-type", "dmeo", str(_lines(tmp_path, ["6.6.6.6"], "x")))
    invoke("run", "--once")
    time.sleep(1.1)  # the census counts documents of past seconds once, then keeps the count
    assert _status(invoke, "--recount")["instances"]["raw"] == 4
    archive.collection.delete_many({"itype": "raw", "sub_type": "dmeo"})
    archive.collection.delete_one({"itype": "raw", "sub_type": "demo"})
    assert _status(invoke)["instances"]["raw"] == 4, "deletions are not seen (documented)"
    recounted = _status(invoke, "--recount")
    assert recounted["instances"] == _exact(archive) and recounted["instances"]["raw"] == 2
    assert recounted["unread"] == {} and recounted["instances_from"] == "recount"
    assert _status(invoke)["instances"]["raw"] == 2, "the rebuilt census is kept"


def test_count_all_equals_the_census(invoke: Any, tmp_path: Path, archive: Archive) -> None:
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1", "2.2.2.2"])))
    invoke("ingest", "--sub-type", "dmeo", str(_lines(tmp_path, ["6.6.6.6"], "x")))
    invoke("run", "--once")
    everything, kept = _status(invoke, "--count-all"), _status(invoke)
    assert everything["instances"] == kept["instances"] == _exact(archive)
    assert everything["unread"] == kept["unread"] == {"dmeo": 1}
    assert everything["instances_from"] == "count-all"
    assert invoke("status", "--count-all", "--recount").exit_code == 2


def test_an_archive_older_than_the_census_is_counted_once_in_full(
    invoke: Any, archive: Archive
) -> None:
    archive.collection.insert_many(
        [Raw("demo", {"ips": [f"10.0.0.{i}"], "ts": i}, "o").doc for i in range(4)]
        + [{"itype": "attribute", "sub_type": "ipv4", "data": "10.0.0.9", "_hash": "h"}]
    )
    archive.insert_raw([Raw("feed", {"ips": ["10.1.0.1"], "ts": 1}, "o")])  # notes raw/feed
    first = invoke("status", "--json")
    assert "counting every instance once" in first.stderr
    counts = json.loads(first.stdout)["instances"]
    assert (counts["raw"], counts["attribute"]) == (5, 1)
    assert json.loads(first.stdout)["unread"] == {"feed": 1}
    again = invoke("status", "--json")
    assert "counting" not in again.stderr and json.loads(again.stdout)["instances"] == counts


def test_the_text_output_keeps_its_shape(invoke: Any, tmp_path: Path) -> None:
    invoke("ingest", "--sub-type", "demo", str(_lines(tmp_path, ["1.1.1.1"])))
    invoke("run", "--once")
    lines = invoke("status").stdout.splitlines()
    row = re.compile(r"(ips|correlate) +pending +0  processed +1  failed +0")
    assert sorted(row.fullmatch(line)[1] for line in lines[:2]) == ["correlate", "ips"]
    assert lines[2] == "instances: raw 1, attribute 1, object 0, event 1, session 1"


class _StateCommands(monitoring.CommandListener):
    """Writes to the ``cybexp_state`` collection."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if (
            event.command_name in {"insert", "update"}
            and event.command.get(event.command_name) == "cybexp_state"
        ):
            self.writes.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def test_writers_write_the_census_once_per_new_pair(archive: Archive, mongo_uri: str) -> None:
    listener = _StateCommands()
    settings = Settings(mongo_url=mongo_uri, db=archive.collection.database.name)
    watched = Archive.connect(settings, event_listeners=[listener])
    try:
        for n in range(3):
            watched.insert_raw([Raw("demo", {"ips": [f"10.2.0.{n}"], "ts": n}, "o")])
        assert len(listener.writes) == 1, "the first document of raw/demo only"
        for n in range(3):
            watched.insert_raw([Raw("other", {"ips": [f"10.3.0.{n}"], "ts": n}, "o")])
        assert len(listener.writes) == 2
    finally:
        watched.close()
    listed = {(p["itype"], p["sub_type"]) for p in archive.census.read()["pairs"]}
    assert listed == {("raw", "demo"), ("raw", "other")}
