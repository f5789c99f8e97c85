#!/usr/bin/env python3
"""Bootstrap with nothing but Python: make .venv-dev with nox in it, then run nox.

    python3 dev.py demo     # the main job on the embedded server with the sample data
    python3 dev.py test     # every check CI runs
    python3 dev.py -s NAME  # any nox session (see noxfile.py); other arguments go to nox
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv-dev"
SHORTCUTS = {"test": [], "demo": ["-s", "demo"], "benchmark": ["-s", "benchmark"]}


def main(argv: list[str]) -> int:
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    quiet = ["-q", "--disable-pip-version-check"]
    subprocess.run([python, "-m", "pip", "install", *quiet, "nox>=2024.4", "uv>=0.4"], check=True)
    if argv and argv[0] in SHORTCUTS:
        argv = SHORTCUTS[argv[0]] + argv[1:]
    return subprocess.run([python, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *argv],
                          check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
