"""How long ``cybexp-analytics run`` takes to stop on SIGTERM in the middle of a large batch,
and whether anything was lost or written twice.

    python3 dev.py -s stop_time                     # via nox: the core and the plugins
    python benchmarks/stop_time.py --help

Ingests the real PhishTank feed of ``../shared/corpus`` (parts of 5,000 records, each a batch
of several seconds of work) with the real CLI into a fresh server, starts the daemon
(``run --filter phishtank``), sends SIGTERM ``--after`` seconds after its first document was
claimed, and times the exit (wall time, the exit status). Then ``run --once`` finishes the
work, and the same feed is processed without interruption into a second database: the two
must hold the same instances (by ``_hash``) and the same counters. Prints one JSON object.
Issue 13: SIGTERM stops within ``--stop-timeout`` (30 s) with nothing lost.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import DEFAULT_CORPUS  # benchmarks/run.py, beside this script

from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.leases import STATE_COLLECTION
from cybexp_core.server import LocalServer

CLI = Path(sys.executable).parent / "cybexp-analytics"
FEED = "feeds/phishtank__online-valid__2019-05-15__ZugNZwang.csv"


def _cli(uri: str, db: str, *args: str) -> list[str]:
    return [str(CLI), "--mongo-url", uri, "--db", db, *args]


def _ingest(uri: str, db: str, feed: Path) -> None:
    command = _cli(uri, db, "ingest", "--sub-type", "phishtank_feed", "--format", "file", str(feed))
    subprocess.run(command, check=True, capture_output=True)


def _hashes(archive: Archive) -> list[str]:
    """The outputs' hashes, sorted."""
    found = archive.collection.find({"itype": {"$ne": "raw"}}, {"_hash": 1, "_id": 0})
    return sorted(doc["_hash"] for doc in found)


def _status(uri: str, db: str) -> dict[str, Any]:
    out = subprocess.run(_cli(uri, db, "status", "--json"), check=True, capture_output=True)
    rows = json.loads(out.stdout)["filters"]
    row = next(r for r in rows if r["name"] == "phishtank")
    return {k: row.get(k) for k in ("processed", "failed", "pending")}


def _claimed(archive: Archive) -> bool:
    state = archive.collection.database[STATE_COLLECTION]
    return state.count_documents({"leases.0": {"$exists": True}}) > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--after", type=float, default=2.0, help="seconds into the batch")
    parser.add_argument("--stop-timeout", type=float, default=30.0)
    parser.add_argument("--log", type=Path, help="keep the daemon's log (-v) in this file")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    feed = args.corpus / FEED
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(Path(tmp) / "db", standalone=False) as server,
    ):
        uri = server.uri
        _ingest(uri, "stopped", feed)
        _ingest(uri, "clean", feed)
        stopped = Archive.connect(Settings(mongo_url=uri, db="stopped"))
        clean = Archive.connect(Settings(mongo_url=uri, db="clean"))
        raws = stopped.collection.count_documents({"itype": "raw"})
        log_path = args.log or Path(tmp) / "daemon.log"
        with open(log_path, "w") as log:
            command = _cli(
                uri, "stopped", "-v", "run", "--filter", "phishtank",
                "--stop-timeout", str(args.stop_timeout),
            )
            daemon = subprocess.Popen(command, stderr=log, stdout=subprocess.DEVNULL)
        while not _claimed(stopped):
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited early:\n{log_path.read_text()}")
            time.sleep(0.05)
        time.sleep(args.after)
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(args.stop_timeout + 30)
        stop_seconds = time.monotonic() - signalled
        at_stop = _status(uri, "stopped")
        finish = subprocess.run(_cli(uri, "stopped", "run", "--once"), capture_output=True)
        started = time.monotonic()
        once = subprocess.run(_cli(uri, "clean", "run", "--once"), capture_output=True)
        clean_seconds = time.monotonic() - started
        after, reference = _hashes(stopped), _hashes(clean)
        result = {
            "raw_documents": raws,
            "records": sum(1 for _ in feed.open()) - 1,
            "sigterm_after_s": args.after,
            "stop_s": round(stop_seconds, 2),
            "exit_status": code,
            "stop_timeout_s": args.stop_timeout,
            "at_stop": at_stop,
            "finish_exit_status": finish.returncode,
            "after_finish": _status(uri, "stopped"),
            "uninterrupted": _status(uri, "clean"),
            "uninterrupted_run_once_s": round(clean_seconds, 1),
            "uninterrupted_exit_status": once.returncode,
            "instances": len(after),
            "identical_instances": after == reference,
            "duplicates": len(after) - len(set(after)),
            "stop_lines": [
                line.strip()
                for line in log_path.read_text().splitlines()
                if "stop" in line.lower() or "gave back" in line.lower()
            ][-5:],
        }
        stopped.close()
        clean.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
