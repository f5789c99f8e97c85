"""CPU seconds of processes, from /proc (user + system), for figures beside wall time.

On a shared machine wall time depends on the neighbours; the CPU a process spent
does much less, so the benchmark reports both.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["process_cpu", "server_cpu"]

_TICK = os.sysconf("SC_CLK_TCK")


def _fields(stat: str) -> list[str]:
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return stat[stat.rindex(")") + 2 :].split()


def process_cpu(pid: int | str = "self") -> float:
    """utime + stime of one process, in seconds."""
    fields = _fields(Path(f"/proc/{pid}/stat").read_text())
    return (int(fields[11]) + int(fields[12])) / _TICK


def server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the server: every live process of its process group (the server is
    started in a session of its own), or ``None`` when there is no local server."""
    if pid is None:
        return None
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _fields((entry / "stat").read_text())
        except (OSError, ValueError):
            continue
        if int(fields[2]) == pid:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total
