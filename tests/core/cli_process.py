"""Run ``cybexp-analytics`` as a real process, with the fake filters of ``fakes.py`` installed.

The fakes are made visible to the child through a ``.dist-info`` directory on its
``PYTHONPATH`` (what ``pip install`` would leave), so the child finds them through
its entry points as it would find a real plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLI = str(Path(sys.executable).parent / "cybexp-analytics")
HERE = Path(__file__).parent
FAKE_ENTRY_POINTS = "[cybexp.filters]\nips = fakes:ip_sightings\ncorrelate = fakes:ip_correlator\n"


def plugin_path(tmp_path: Path) -> Path:
    """A directory holding a distribution's metadata for the fake filters."""
    site = tmp_path / "site"
    info = site / "cybexp_fake_filters-1.0.dist-info"
    if not info.exists():
        info.mkdir(parents=True)
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
    """Start a command in the background (its output goes to files in ``tmp_path``)."""
    name = "-".join(a.strip("-") for a in args[:3] if a)
    with open(tmp_path / f"{name}.out", "a") as out, open(tmp_path / f"{name}.err", "a") as err:
        return subprocess.Popen(
            [CLI, *args], cwd=tmp_path, env=cli_env(tmp_path, env), stdout=out, stderr=err
        )
