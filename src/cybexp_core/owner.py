"""Who holds a lease: worker id, host, pid and process start time, and whether it still lives."""

from __future__ import annotations

import os
import socket
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from attrs import frozen

__all__ = ["Owner", "process_start"]


def process_start(pid: int) -> str | None:
    """An id of process ``pid``'s life (boot id and start time from ``/proc``), or ``None``
    when no such process runs (or ``/proc`` is not there)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return f"{_boot_id()}:{fields[19].decode()}"


@cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


@frozen
class Owner:
    """This process, as it signs its leases."""

    worker: str
    host: str
    pid: int
    started: str | None

    @classmethod
    def here(cls, worker: str) -> Owner:
        pid = os.getpid()
        return cls(worker, socket.gethostname(), pid, process_start(pid))

    def fields(self) -> dict[str, Any]:
        return {"by": self.worker, "host": self.host, "pid": self.pid, "started": self.started}

    def orphaned(self, lease: Mapping[str, Any]) -> bool:
        """Whether ``lease`` belongs to a process of this host that is gone."""
        if lease.get("host") != self.host or lease.get("started") is None:
            return False
        pid = lease.get("pid")
        return not isinstance(pid, int) or process_start(pid) != lease["started"]

    def abandoned(self, lease: Mapping[str, Any], held: Collection[str]) -> bool:
        """Whether ``lease`` is this worker's own but not held any more (its batch failed
        while the database was away, so it could not be given back)."""
        return lease.get("by") == self.worker and lease.get("id") not in held

    def may_take(self, lease: Mapping[str, Any], now: float, held: Collection[str] = ()) -> bool:
        """Whether a claim of this process may take ``lease`` over now; ``held``: the
        tokens of the leases this worker is processing."""
        return lease.get("until", 0) <= now or self.orphaned(lease) or self.abandoned(lease, held)

    def why_taken(self, lease: Mapping[str, Any]) -> str:
        if self.orphaned(lease):
            return "its process is gone"
        return "it expired" if lease.get("by") != self.worker else "this worker gave it up"

    @staticmethod
    def describe(lease: Mapping[str, Any]) -> str:
        """``host/pid`` of a lease's holder (its worker id for leases without them)."""
        if lease.get("host"):
            return f"{lease['host']}/{lease.get('pid')}"
        return str(lease.get("by"))
