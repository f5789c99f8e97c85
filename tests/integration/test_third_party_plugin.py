"""A third party's path, start to finish, outside the source tree.

In a fresh virtual environment: install the released core (non-editable, from
this checkout), scaffold a plugin with ``new-plugin``, build it into a wheel,
install the wheel, run the plugin's own tests, then see ``plugins`` list it and
``ingest`` + ``run --once`` process its input. Every command is timed; run with
``-s`` to see the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[2]
NAME = "acme_feed"
DIST = "cybexp-filter-acme-feed"


class Author:
    """Runs the commands a plugin author types, in ``home``, and times each one."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.bin = home / ".venv" / "bin"
        self.timings: list[tuple[str, float]] = []
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CYBEXP_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
        }

    def run(
        self, typed: str, command: Sequence[str | Path], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            [str(part) for part in command],
            cwd=cwd or self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.timings.append((typed, time.monotonic() - started))
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"`{typed}` exited {result.returncode}\n{output}"
        return result

    def report(self) -> str:
        lines = [f"{seconds:7.1f}s  {typed}" for typed, seconds in self.timings]
        total = sum(seconds for _, seconds in self.timings)
        return "\n".join(["plugin author's commands:", *lines, f"{total:7.1f}s  total"])


@pytest.mark.slow
def test_third_party_plugin_from_scaffold_to_run(tmp_path: Path, mongo_uri: str) -> None:
    author = Author(tmp_path)
    python = author.bin / "python"
    cli = author.bin / "cybexp-analytics"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]

    author.run("python -m venv .venv", [sys.executable, "-m", "venv", tmp_path / ".venv"])
    author.run('pip install "cybexp-core[embedded]"', [*pip, f"{ROOT}[embedded]"])
    # The scaffold runs from the installed (non-editable) core: its templates are in the wheel.
    author.run(f"cybexp-analytics new-plugin {NAME}", [cli, "new-plugin", NAME])
    plugin = tmp_path / DIST
    author.run(
        "pip wheel --no-deps -w dist .",
        [python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", "."],
        cwd=plugin,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    author.run(f'pip install "dist/{wheel.name}[test]"', [*pip, f"{wheel}[test]"])

    tests = author.run("pytest", [python, "-m", "pytest", "-p", "no:cacheprovider"], cwd=plugin)
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout

    plugins = author.run("cybexp-analytics plugins --json", [cli, "plugins", "--json"])
    listed = json.loads(plugins.stdout)
    (mine,) = [row for row in listed["filters"] if row["entry_point"] == NAME]
    assert mine["distribution"] == DIST
    assert mine["consumes"] == [{"itype": "raw", "sub_type": NAME}]
    assert listed["errors"] == []

    db = f"cybexp_test_{uuid.uuid4().hex[:12]}"
    target = [cli, "--mongo-url", mongo_uri, "--db", db]
    try:
        author.run(
            f"cybexp-analytics ingest --sub-type {NAME} examples/sample.jsonl",
            [*target, "ingest", "--sub-type", NAME, "examples/sample.jsonl"],
            cwd=plugin,
        )
        run = author.run("cybexp-analytics run --once --json", [*target, "run", "--once", "--json"])
        stats = json.loads(run.stdout)["filters"][NAME]
        # The sample's third line has no timestamp: it fails with the documented InputError.
        assert (stats["processed"], stats["failed"], stats["skipped"]) == (2, 1, 0)
        failed = author.run(
            "cybexp-analytics failed list --json", [*target, "failed", "list", "--json"]
        )
        (failure,) = json.loads(failed.stdout)
        assert failure["error"] == "InputError" and "data.timestamp" in failure["message"]
        with MongoClient(mongo_uri) as client:
            events = list(client[db]["instance"].find({"itype": "event"}))
        assert [event["sub_type"] for event in events] == ["sighting", "sighting"]
    finally:
        print(author.report())
        with MongoClient(mongo_uri) as client:
            client.drop_database(db)
