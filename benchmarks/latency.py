"""Insert-to-processed latency of the ``run`` daemon at a sustained insert rate.

    python3 dev.py -s latency                       # via nox: the core and the plugins
    python benchmarks/latency.py --rate 100 --seconds 120 --help

Starts a fresh server in the mode where change streams work, starts
``cybexp-analytics run --filter cowrie`` as a child process, then inserts real
Cowrie lines (``../shared/corpus``) one document at a time at ``--rate``
documents/s for ``--seconds``. A watcher notes when each document stops being
pending for the filter (its batch is written and committed): the latency is
that moment minus its insert. Prints p50 / p90 / p99 / max, the documents still
pending at the end, and the daemon's CPU seconds beside the wall time. Issue 13's
target: p50 < 1 s, p99 < 3 s at 100 documents/s for 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bson import ObjectId
from run import DEFAULT_CORPUS  # benchmarks/run.py, beside this script
from workloads import cowrie_docs

from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.plugins import load_filters
from cybexp_core.server import LocalServer

CLI = Path(sys.executable).parent / "cybexp-analytics"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watcher:
    """Notes when each inserted document stops being pending: at or below the filter's
    checkpoint and outside its open leases (one read of its state document)."""

    def __init__(self, archive: Archive, fid: str, consumes: Any) -> None:
        self.archive = archive
        self.key = archive.leases.key(fid, consumes)
        self.unseen: OrderedDict[ObjectId, float] = OrderedDict()
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = 0

    def inserted(self, _id: ObjectId, at: float) -> None:
        with self.lock:
            self.unseen[_id] = at

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._look()
            except Exception as exc:  # noqa: BLE001 - a dead watcher would look like a stall
                self.errors += 1
                print(f"watcher: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.stop.wait(0.02)

    def _look(self) -> None:
        with self.lock:
            ids = list(self.unseen)
        if ids:
            state = self.archive.leases.read(self.key)
            cursor = state.get("cursor")
            leased = [(x["lo"], x["hi"]) for x in state.get("leases", [])]
            pending = {
                _id
                for _id in ids
                if cursor is None or _id > cursor or any(lo < _id <= hi for lo, hi in leased)
            }
            now = time.monotonic()
            with self.lock:
                for _id in ids:
                    if _id not in pending:
                        self.latencies.append(now - self.unseen.pop(_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="documents inserted per second")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to insert")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--log", type=Path, help="keep the daemon's log (-v) in this file (default: discarded)"
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="fsync every commit, as the embedded server does (one insert then costs ~40 ms "
        "of disk on this machine, below 100 single inserts/s from one writer)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the server and daemon

    raws = cowrie_docs(args.corpus, int(args.rate * args.seconds))
    cowrie = next(f for f in load_filters().filters if f.info.name == "cowrie")
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(Path(tmp) / "db", sync_on_commit=args.sync, standalone=False) as server,
    ):
        archive = Archive.connect(Settings(mongo_url=server.uri, db="latency"))
        archive.ensure_indexes()
        log_path = args.log or Path(tmp) / "daemon.log"
        with open(log_path, "w") as log:
            daemon = subprocess.Popen(
                [
                    str(CLI),
                    "--mongo-url",
                    server.uri,
                    "--db",
                    "latency",
                    "-v",
                    "run",
                    "--filter",
                    "cowrie",
                    "--batch-size",
                    str(args.batch_size),
                ],
                stderr=log,
                stdout=subprocess.DEVNULL,
            )
        stopped: float | None = None  # the daemon had already exited: nothing to time
        try:
            result = _measure(archive, daemon, log_path, raws, args, cowrie)
        finally:
            if daemon.poll() is None:
                signalled = time.monotonic()
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(60)
                stopped = time.monotonic() - signalled
            archive.close()
    # The idle daemon's stop on SIGTERM, after the whole run.
    result.update(
        stop_s=None if stopped is None else round(stopped, 2), exit_status=daemon.returncode
    )
    print(json.dumps(result, indent=2))


def _measure(
    archive: Archive,
    daemon: subprocess.Popen[bytes],
    log_path: Path,
    raws: list[Any],
    args: argparse.Namespace,
    cowrie: Any,
) -> dict[str, Any]:
    count = len(raws)
    while (
        "daemon started" not in log_path.read_text() or "change stream" not in log_path.read_text()
    ):
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited:\n{log_path.read_text()}")
        time.sleep(0.2)
    time.sleep(1.0)
    consumes = cowrie.info.consumes[0]
    watcher = Watcher(archive, cowrie.info.id, consumes)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    cpu_before = _cpu_seconds(daemon.pid)
    started = time.monotonic()
    for n, raw in enumerate(raws):
        due = started + n / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        doc = dict(raw.doc)
        at = time.monotonic()
        _id = archive.collection.insert_one(doc).inserted_id
        watcher.inserted(_id, at)
        if n % 500 == 499:
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited ({daemon.returncode}); its log: {log_path}")
            print(
                f"{n + 1} inserted in {time.monotonic() - started:.1f}s, "
                f"{len(watcher.unseen)} pending"
                + ("" if thread.is_alive() else " (the watcher died)"),
                file=sys.stderr,
            )
    inserting = time.monotonic() - started
    deadline = time.monotonic() + 30
    while watcher.unseen and time.monotonic() < deadline:
        time.sleep(0.1)
    wall = time.monotonic() - started
    cpu = _cpu_seconds(daemon.pid) - cpu_before
    watcher.stop.set()
    thread.join()
    latencies = sorted(watcher.latencies)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    result = {
        "documents": count,
        "rate_asked": args.rate,
        "rate_achieved": round(count / inserting, 1),
        "processed": len(latencies),
        "still_pending": len(watcher.unseen),
        "p50_s": round(quantiles[49], 3),
        "p90_s": round(quantiles[89], 3),
        "p99_s": round(quantiles[98], 3),
        "max_s": round(latencies[-1], 3),
        "wall_s": round(wall, 1),
        "daemon_cpu_s": round(cpu, 1),
        "watcher_errors": watcher.errors,
    }
    return result


if __name__ == "__main__":
    main()
