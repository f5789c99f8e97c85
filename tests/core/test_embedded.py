"""With nothing configured, the CLI runs on its own local server and keeps the data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "cybexp-analytics")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CYBEXP_", "MONGO"))}
    env["CYBEXP_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [CLI, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not Path(CLI).exists(), reason="console script not installed")
def test_embedded_server_starts_keeps_data_and_stops(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text('{"eventid": "cowrie.session.connect", "session": "a1"}\n')
    first = _cli(tmp_path, "ingest", "--sub-type", "cowrie", str(source))
    assert first.returncode == 0, first.stderr
    assert f"using the embedded server, data in {tmp_path / 'data'}" in first.stderr
    assert not (tmp_path / "data" / "server.json").exists(), "the server was stopped on exit"
    second = _cli(tmp_path, "status", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["instances"]["raw"] == 1
