"""``run --workers N``: N worker processes that share the work through document leases."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
from collections.abc import Sequence
from typing import Any

import attrs

from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.daemon import Daemon
from cybexp_core.plugins import load_filters
from cybexp_core.worker import FilterStats, Runner, RunSummary

__all__ = ["run_pool"]

log = logging.getLogger(__name__)


def _worker(
    settings_values: dict[str, Any],
    entry_points: Sequence[str],
    once: bool,
    results: Any,
    level: int,
) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(processName)s: %(message)s"
    )
    settings = Settings(**settings_values)
    report = load_filters(settings=settings.filters)
    filters = [f for f in report.filters if f.entry_point in entry_points]
    archive = Archive.connect(settings)
    runner = Runner(archive, filters, settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: runner.stop_event.set())
    try:
        summary = runner.run_once() if once else Daemon(runner).run()
        results.put(summary.as_dict())
    finally:
        archive.close()


def run_pool(
    settings: Settings, entry_points: Sequence[str], workers: int, *, once: bool
) -> RunSummary:
    """Run ``workers`` processes until done (``once``) or until SIGINT/SIGTERM; sum their counts."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    values = attrs.asdict(settings, recurse=False)
    level = logging.getLogger().getEffectiveLevel()
    processes = [
        context.Process(
            target=_worker,
            args=(values, list(entry_points), once, results, level),
            name=f"worker-{n}",
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def forward_term(*_: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker finishes its batch, then stops

    signal.signal(signal.SIGTERM, forward_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # children get the terminal's SIGINT themselves
    merged = RunSummary()
    try:
        pending = len(processes)
        while pending:
            try:
                part = results.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and results.empty():
                    break
                continue
            pending -= 1
            merged.seconds = max(merged.seconds, part["seconds"])
            for name, counts in part["filters"].items():
                merged.filters.setdefault(name, FilterStats()).add(FilterStats(**counts))
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [p.name for p in processes if p.exitcode not in (0, None)]
    if failed:
        log.error("worker processes exited with errors: %s", ", ".join(failed))
    return merged
