"""Run ``cybexp-analytics`` as a real process, with the fake filters of ``fakes.py`` installed.

The fakes are made visible to the child through a ``.dist-info`` directory on its
``PYTHONPATH`` (what ``pip install`` would leave), so the child finds them through
its entry points as it would find a real plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

CLI = str(Path(sys.executable).parent / "cybexp-analytics")
HERE = Path(__file__).parent
FAKE_ENTRY_POINTS = (
    "[cybexp.filters]\nips = fakes:ip_sightings\ncorrelate = fakes:ip_correlator\n"
    "slow = fakes:slow_sightings\n"
)


def plugin_path(tmp_path: Path) -> Path:
    """A directory holding a distribution's metadata for the fake filters."""
    site = tmp_path / "site"
    info = site / "cybexp_fake_filters-1.0.dist-info"
    if not info.exists():
        info.mkdir(parents=True, exist_ok=True)  # two threads may get here at once
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: cybexp-fake-filters\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text(FAKE_ENTRY_POINTS)
    return site


def cli_env(tmp_path: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI child: the embedded server in ``tmp_path/data``, the fakes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CYBEXP_", "MONGO"))}
    env["CYBEXP_DATA_DIR"] = str(tmp_path / "data")
    paths = [str(plugin_path(tmp_path)), str(HERE), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.update(extra or {})
    return env


def run_cli(
    tmp_path: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end."""
    return subprocess.run(
        [CLI, *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(
    tmp_path: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a command in the background; its stderr goes to ``stderr_of(process)``."""
    number = len(list(tmp_path.glob("background-*.err")))
    err_path = tmp_path / f"background-{number}.err"
    with open(tmp_path / f"background-{number}.out", "a") as out, open(err_path, "a") as err:
        process = subprocess.Popen(
            [CLI, *args], cwd=tmp_path, env=cli_env(tmp_path, env), stdout=out, stderr=err
        )
    process.err_path = err_path  # type: ignore[attr-defined]
    return process


def stderr_of(process: subprocess.Popen[bytes]) -> str:
    """What a process started by :func:`start_cli` wrote to stderr so far."""
    return Path(process.err_path).read_text()  # type: ignore[attr-defined]


def _processes() -> Iterator[tuple[int, str, int, bytes]]:
    """``(pid, state, parent pid, command line)`` of every process that can be read."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        yield int(proc.name), fields[0], int(fields[1]), command


def children_of(pid: int) -> list[int]:
    """Pids of the live processes whose parent is ``pid``."""
    return [p for p, state, ppid, _ in _processes() if ppid == pid and state not in ("Z", "X")]


def servers_on(data: Path) -> list[int]:
    """Pids of the live embedded-server processes storing their files in ``data``."""
    return [
        pid
        for pid, state, _, command in _processes()
        if b"secantusd" in command and str(data).encode() in command and state not in ("Z", "X")
    ]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
