"""One end-to-end run in a fresh process, so its peak RSS and MongoDB commands are its own.

Usage: python benchmarks/child.py URI DB FILTER[,FILTER] [STOP_AFTER_DOCUMENTS] [--write-marks]
Prints one JSON line: seconds, the worker's own CPU seconds (start-up excluded), commands
(by name), peak RSS and the run summary. ``--write-marks`` turns on the runner's
compatibility option that still writes the raw documents' ``filters``/``_ref`` marks.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from importlib.metadata import entry_points

import attrs
from cpu import process_cpu
from pymongo import monitoring

from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.plugins import load_filters
from cybexp_core.worker import Runner


class CommandCounter(monitoring.CommandListener):
    """Counts every command pymongo sends, and the seconds spent waiting for each kind."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] = self.counts.get(event.command_name, 0) + 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._took(event.command_name, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._took(event.command_name, event.duration_micros)

    def _took(self, name: str, micros: int) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + micros / 1e6


def _peak_rss_kb() -> int:
    """This process's own high-water RSS (ru_maxrss would include the parent's before exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg != "--write-marks"]
    uri, db, names = args[0], args[1], args[2].split(",")
    stop_after = int(args[3]) if len(args) > 3 else 0
    counter = CommandCounter()
    monitoring.register(counter)
    settings = Settings(mongo_url=uri, db=db)
    if "--write-marks" in sys.argv:
        if "write_marks" not in attrs.fields_dict(Settings):
            print(json.dumps({"unsupported": "runner.write_marks"}))
            return
        settings = attrs.evolve(settings, write_marks=True)
    archive = Archive.connect(settings)
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name in names]
    filters = load_filters(entry_points_=group).filters
    runner = Runner(archive, filters, settings)
    if stop_after:
        done = [0]

        def progress(count: int) -> None:
            done[0] += count
            if done[0] >= stop_after:
                runner.stop_event.set()

        runner.on_progress = progress
    archive.ensure_indexes()
    counter.counts.clear()
    counter.seconds.clear()
    started, cpu = time.perf_counter(), process_cpu()
    summary = runner.run_once()
    seconds = time.perf_counter() - started
    cpu = process_cpu() - cpu
    peak_kb = _peak_rss_kb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "worker_cpu_seconds": cpu,
                "commands": counter.counts,
                "command_seconds": {k: round(v, 3) for k, v in counter.seconds.items()},
                "peak_rss_mb": peak_kb / 1024,
                "summary": summary.as_dict(),
            }
        )
    )


if __name__ == "__main__":
    main()
