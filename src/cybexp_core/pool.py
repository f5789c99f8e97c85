"""``run --workers N``: N worker processes that share the work through document leases.

The parent restarts a worker that dies (and reports it), forwards SIGTERM/SIGINT
to the workers and waits for them at most the stop timeout. Workers die with
their parent: each asks Linux for ``PR_SET_PDEATHSIG`` and also exits when the
pipe it inherited from the parent reaches end of file; each runs in its own
process group so a terminal's Ctrl-C reaches the parent alone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

import attrs
from attrs import define, field

from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.daemon import Daemon, wait_for_database
from cybexp_core.logs import setup_logging
from cybexp_core.metrics import Metrics
from cybexp_core.plugins import load_filters
from cybexp_core.stopping import StopControl, parent_death_signal
from cybexp_core.worker import FilterStats, Runner, RunSummary

__all__ = ["PoolResult", "run_pool"]

log = logging.getLogger(__name__)
#: A worker that dies more often than this in a minute is not restarted again.
MAX_RESTARTS_PER_MINUTE = 5


@define
class WorkerArgs:
    """What a worker process needs (picklable)."""

    settings: dict[str, Any]
    entry_points: list[str]
    once: bool
    stop_timeout: float
    level: int
    log_format: str
    #: ``(host, port)`` of worker 0's metrics; worker k serves on port + k.
    metrics: tuple[str, int] | None = None


def _watch_parent(pipe: Any) -> None:
    """Stop this worker (as SIGTERM does) when the parent's end of ``pipe`` closes."""
    with contextlib.suppress(EOFError, OSError):
        pipe.recv()
    log.error("the parent process is gone; stopping")
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(args: WorkerArgs, number: int, results: Any, pipe: Any, parent_pid: int) -> None:
    parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the line above
        return
    os.setpgid(0, 0)
    setup_logging(args.level, args.log_format, with_process=True)
    settings = Settings(**args.settings)
    report = load_filters(settings=settings.filters)
    filters = [f for f in report.filters if f.entry_point in args.entry_points]
    archive = Archive.connect(settings)
    runner = Runner(archive, filters, settings)
    metrics = None
    if args.metrics is not None:
        host, port = args.metrics
        metrics = Metrics()
        metrics.filters(f.info.name for f in filters)
        log.warning("metrics on http://%s:%d/metrics", host, metrics.serve(port + number, host))
    threading.Thread(target=_watch_parent, args=(pipe,), daemon=True).start()
    try:
        control = StopControl(
            runner.stop_event, args.stop_timeout, before_exit=runner.give_back_held
        )
        with control:
            if args.once:
                archive.ensure_indexes()
                summary = runner.run_once()
            elif wait_for_database(archive, runner.stop_event):
                if metrics is not None:
                    metrics.set_database(True)
                summary = Daemon(runner, metrics).run()
            else:
                summary = RunSummary()
        results.put({"summary": summary.as_dict(), "interrupted": control.interrupted})
    finally:
        archive.close()


@define
class PoolResult:
    """The workers' counts summed, the deaths of workers, whether a signal stopped them."""

    summary: RunSummary
    deaths: int = 0
    interrupted: bool = False


@define
class _Slot:
    number: int
    name: str
    process: Any = None
    done: bool = False
    deaths: list[float] = field(factory=list)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def run_pool(
    settings: Settings,
    entry_points: Sequence[str],
    workers: int,
    *,
    once: bool,
    stop_timeout: float = 30.0,
    log_format: str = "text",
    metrics: tuple[str, int] | None = None,
) -> PoolResult:
    """Run ``workers`` processes until done (``once``) or until SIGINT/SIGTERM; sum their counts."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    args = WorkerArgs(
        attrs.asdict(settings, recurse=False),
        list(entry_points),
        once,
        stop_timeout,
        logging.getLogger().getEffectiveLevel(),
        log_format,
        metrics,
    )
    # The workers read this pipe; it closes when this process dies, however it dies.
    pipe, _keep_open = context.Pipe(duplex=False)
    started = time.monotonic()
    slots = [_Slot(n, f"worker-{n}") for n in range(workers)]
    result = PoolResult(RunSummary())
    stop = threading.Event()

    def start(slot: _Slot) -> None:
        slot.process = context.Process(
            target=_worker,
            args=(args, slot.number, results, pipe, os.getpid()),
            name=slot.name,
        )
        slot.process.start()

    received = 0

    def collect(timeout: float) -> None:
        nonlocal received
        try:
            part = results.get(timeout=timeout)
        except queue.Empty:
            return
        received += 1
        result.interrupted |= part["interrupted"]
        for name, counts in part["summary"]["filters"].items():
            result.summary.filters.setdefault(name, FilterStats()).add(FilterStats(**counts))

    def kill_all() -> None:
        for slot in slots:
            if slot.process is not None and slot.process.is_alive():
                slot.process.kill()

    for slot in slots:
        start(slot)
    forwarded = False
    with StopControl(
        stop, stop_timeout + 5.0, waiting_for=lambda: "the workers", before_exit=kill_all
    ) as control:
        while not all(slot.done for slot in slots):
            collect(0.5)
            if stop.is_set() and not forwarded:
                forwarded = True
                for slot in slots:
                    if slot.process.is_alive():
                        slot.process.terminate()  # SIGTERM: the worker stops on time
            for slot in slots:
                if slot.done or slot.process.is_alive():
                    continue
                code = slot.process.exitcode
                if code == 0:
                    slot.done = True
                    continue
                result.deaths += 1
                now = time.monotonic()
                slot.deaths = [t for t in slot.deaths if now - t < 60] + [now]
                if stop.is_set() or len(slot.deaths) > MAX_RESTARTS_PER_MINUTE:
                    log.error(
                        "%s (pid %s) died (%s)", slot.name, slot.process.pid, _describe_exit(code)
                    )
                    slot.done = True
                    continue
                log.error(
                    "%s (pid %s) died (%s); restarting it",
                    slot.name,
                    slot.process.pid,
                    _describe_exit(code),
                )
                start(slot)
        finished = sum(1 for slot in slots if slot.process.exitcode == 0)
        deadline = time.monotonic() + 5.0
        while received < finished and time.monotonic() < deadline:
            collect(0.1)
    result.interrupted |= control.interrupted
    result.summary.seconds = time.monotonic() - started
    return result
