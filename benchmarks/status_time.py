"""How long ``status``, ``status --json`` and ``failed list`` take on a large archive (issue 13).

    python benchmarks/status_time.py --keep /tmp/status-1m        # fill once, keep, time
    python benchmarks/status_time.py --keep /tmp/status-1m        # again: reuses the data
    python benchmarks/status_time.py --docs 100000 --probe        # smaller, with query probes

Fills an archive of ``--docs`` small documents shaped like TAHOE ones (40% raw over five
sub_types, one that no installed filter reads; the rest attributes, objects, events and
sessions) with bulk ``insert_many`` on a fresh SecantusDB server, records failures through
the project's own API, and sets every filter's checkpoint, counters and window as a real run
leaves them. The real runner (``run --once``) then processes a last slice of real Cowrie
lines, and a few more are left pending. Each command runs ``--runs`` times as a subprocess;
the report gives wall seconds and the CPU seconds of the command and of the server. Where the
core keeps a census of instance counts, its first full count (``status --recount``: the fill
bypasses the core's writes) is timed once before, apart, and so is the old full count
(``status --count-all``): the figures are those of an archive whose census is up to date.
``--probe`` also times single queries (full and capped counts, ``distinct``, an index walk).
Needs the installed filter plugins (the nox ``benchmark`` session's environment).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bson import ObjectId
from cpu import server_cpu
from pymongo import MongoClient
from workloads import DEFAULT_CORPUS, cowrie_docs

from cybexp_core import oids
from cybexp_core.backend import Archive
from cybexp_core.bookkeeping import Failed, Records, Ticket, failure_record
from cybexp_core.errors import InputError
from cybexp_core.leases import START_SPAN, Leases
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.server import LocalServer

DB = "bench_status"
#: Share of the archive per (itype, sub_type); ``unr_netflow`` is read by no filter.
MIX: dict[tuple[str, str], float] = {
    ("raw", "cowrie"): 0.22,
    ("raw", "email"): 0.06,
    ("raw", "openphish_feed"): 0.05,
    ("raw", "phishtank_feed"): 0.04,
    ("raw", "unr_netflow"): 0.03,
    ("attribute", "ipv4"): 0.18,
    ("attribute", "url"): 0.12,
    ("object", "email_header"): 0.12,
    ("event", "sighting"): 0.13,
    ("session", "session"): 0.05,
}
FAILURES = 2_000  # Cowrie documents recorded as failed
SLICE = 300  # real Cowrie lines the real runner processes
PENDING = 50  # real Cowrie lines left pending
COMMANDS = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "failed list": ["failed", "list"],
}
TARGET_SECONDS = 2.0


def _ids(count: int) -> Iterator[ObjectId]:
    """Increasing ObjectIds over the 300 days before yesterday."""
    first = time.time() - 301 * 86400
    step = 300 * 86400 / max(count, 1)
    for index in range(count):
        yield ObjectId(struct.pack(">IQ", int(first + index * step), index))


def _doc(_id: ObjectId, itype: str, sub_type: str, index: int) -> dict[str, Any]:
    hash_ = hashlib.sha256(f"{itype}|{sub_type}|{index}".encode()).hexdigest()
    ip = f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
    if itype == "raw":
        data: Any = {"eventid": "cowrie.login.failed", "src_ip": ip, "session": f"s{index}"}
        return {
            "_id": _id,
            "itype": "raw",
            "sub_type": sub_type,
            "orgid": "bench-org",
            "timezone": "UTC",
            "data": data,
            "_hash": hash_,
        }
    if itype == "attribute":
        return {"_id": _id, "itype": "attribute", "sub_type": sub_type, "data": ip, "_hash": hash_}
    ref = hashlib.sha256(f"ref{index}".encode()).hexdigest()
    return {
        "_id": _id,
        "itype": itype,
        "sub_type": sub_type,
        "data": {"ipv4": [ip]},
        "_cref": [ref],
        "_ref": [ref],
        "_hash": hash_,
    }


def fill(coll: Any, filters: list[LoadedFilter], count: int) -> dict[str, Any]:
    """``count`` documents, failures, checkpoints, counters and windows as after a real run."""
    started = time.perf_counter()
    archive = Archive(coll)
    archive.ensure_indexes()
    for flt in filters:
        for consumes in flt.info.consumes:
            archive.ensure_queue_index(consumes)
    rng = random.Random(13)
    kinds, weights = list(MIX), list(MIX.values())
    ids = _ids(count)
    stored: Counter[tuple[str, str]] = Counter()
    cowrie_ids: list[ObjectId] = []
    last = oids.OID_MIN
    chunk: list[dict[str, Any]] = []
    for index in range(count):
        itype, sub_type = rng.choices(kinds, weights)[0]
        doc = _doc(next(ids), itype, sub_type, index)
        stored[itype, sub_type] += 1
        if sub_type == "cowrie" and len(cowrie_ids) < FAILURES and rng.random() < 0.02:
            cowrie_ids.append(doc["_id"])
        chunk.append(doc)
        if len(chunk) == 10_000 or index == count - 1:
            coll.insert_many(chunk, ordered=False)
            last = chunk[-1]["_id"]
            chunk = []
            print(f"  {index + 1} documents, {time.perf_counter() - started:.0f} s", flush=True)
    _record_failures(archive, filters, cowrie_ids, coll)
    _checkpoints(archive, filters, stored, last, len(cowrie_ids))
    return {
        "documents": count,
        "fill_seconds": time.perf_counter() - started,
        "stored": {f"{i}/{s}": n for (i, s), n in sorted(stored.items())},
    }


def _record_failures(
    archive: Archive, filters: list[LoadedFilter], ids: list[ObjectId], coll: Any
) -> None:
    """Failures of the Cowrie filter, written by the bookkeeping's own ``Records.write``."""
    cowrie = next(f for f in filters if f.info.name == "cowrie")
    outcomes = []
    for doc in coll.find({"_id": {"$in": ids}}):
        ticket = Ticket(doc["_id"], doc["_hash"], "raw", "cowrie", "bench-org")
        exc = InputError(f"unexpected eventid in session {doc['data']['session']}")
        outcomes.append(Failed(ticket, failure_record(cowrie.info, exc, 3, final=True)))
    Records.of(coll.database).write(cowrie.info.id, outcomes)


def _checkpoints(
    archive: Archive,
    filters: list[LoadedFilter],
    stored: Counter[tuple[str, str]],
    last: ObjectId,
    failed: int,
) -> None:
    """Each queue's checkpoint at the last filled document, its counters and one window, as
    a run that processed them all leaves them (verified now: no full recount is due)."""
    state = archive.leases.state
    for flt in filters:
        for consumes in flt.info.consumes:
            key = Leases.key(flt.info.id, consumes)
            total = sum(
                n
                for (i, s), n in stored.items()
                if i == consumes.itype and consumes.sub_type in (None, s)
            )
            lost = failed if consumes.sub_type == "cowrie" else 0
            counts = {
                "processed": total - lost,
                "failed": lost,
                "skipped": 0,
                "problems": 0,
                "instances": 3 * (total - lost),
            }
            state.replace_one(
                {"_id": key},
                {
                    "_id": key,
                    "version": 1,
                    "cursor": last,
                    "span": START_SPAN,
                    "leases": [],
                    "counts": counts,
                    "verified": time.time(),
                },
                upsert=True,
            )
            archive.windows.record(key, oids.OID_MIN, last, total, counts)


def real_slice(uri: str, corpus: Path) -> dict[str, Any]:
    """The real runner over ``SLICE`` real Cowrie lines; then ``PENDING`` more left pending."""
    client: MongoClient = MongoClient(uri)
    archive = Archive(client[DB]["instance"])
    raws = cowrie_docs(corpus, SLICE + PENDING, tag="status")
    archive.insert_raw(raws[:SLICE])
    time.sleep(2.5)  # past the runner's settle time
    started = time.perf_counter()
    run = subprocess.run(_cli(uri, ["run", "--once"]), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    archive.insert_raw(raws[SLICE:])
    client.close()
    if run.returncode:
        raise SystemExit(f"run --once failed ({run.returncode}): {run.stderr[-2000:]}")
    return {"run_once_seconds": seconds}


def _cli(uri: str, args: list[str]) -> list[str]:
    code = "import sys; from cybexp_core.cli import main; sys.argv[0] = 'cybexp-analytics'; main()"
    return [sys.executable, "-c", code, "--mongo-url", uri, "--db", DB, *args]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(uri: str, pid: int | None, args: list[str], runs: int) -> dict[str, Any]:
    """Wall, client CPU and server CPU seconds of ``runs`` runs of one command (medians)."""
    walls, clients, servers, output = [], [], [], ""
    for _ in range(runs):
        cpu, srv, started = _children_cpu(), server_cpu(pid), time.perf_counter()
        done = subprocess.run(_cli(uri, args), capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        clients.append(_children_cpu() - cpu)
        after = server_cpu(pid)
        servers.append(None if srv is None or after is None else after - srv)
        if done.returncode:
            raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr[-2000:]}")
        output = done.stdout
    known = [s for s in servers if s is not None]
    return {
        "wall_seconds": statistics.median(walls),
        "wall_min_seconds": min(walls),
        "client_cpu_seconds": statistics.median(clients),
        "server_cpu_seconds": statistics.median(known) if known else None,
        "output_lines": output.count("\n"),
        "output_head": output if len(output) < 3000 else output[:1500] + "\n...\n" + output[-600:],
    }


def census_first(uri: str, pid: int | None) -> dict[str, Any] | None:
    """Where the core keeps a census of instance counts: its first full count of the archive
    (``status --recount``, what the first ``status`` does on an archive without one) and the
    old full count (``status --count-all``), each timed once."""
    help_text = subprocess.run(_cli(uri, ["status", "--help"]), capture_output=True, text=True)
    if "--recount" not in help_text.stdout:
        return None
    report = {}
    for label in ("--recount", "--count-all"):
        result = report[label] = time_command(uri, pid, ["status", label], 1)
        print(
            f"status {label}: {result['wall_seconds']:.1f} s wall, server CPU "
            f"{result['server_cpu_seconds']} s",
            flush=True,
        )
    return report


def _probe(name: str, work: Callable[[], Any], pid: int | None) -> dict[str, Any]:
    srv, started = server_cpu(pid), time.perf_counter()
    value = work()
    wall, after = time.perf_counter() - started, server_cpu(pid)
    cpu = None if srv is None or after is None else after - srv
    shown = value if isinstance(value, int | float | str) else len(value)
    print(f"  probe {name}: {wall:.3f} s wall, server CPU {cpu}, -> {shown}", flush=True)
    return {"query": name, "wall_seconds": wall, "server_cpu_seconds": cpu, "value": shown}


def probes(uri: str, pid: int | None) -> list[dict[str, Any]]:
    """Single queries ``status`` could use, timed alone."""
    coll = MongoClient(uri)[DB]["instance"]
    walk = {"itype": "raw", "sub_type": {"$gt": "email"}}
    return [
        _probe("estimated_document_count", coll.estimated_document_count, pid),
        _probe("count itype=raw", lambda: coll.count_documents({"itype": "raw"}), pid),
        _probe(
            "count itype=raw limit 10001",
            lambda: coll.count_documents({"itype": "raw"}, limit=10_001),
            pid,
        ),
        _probe(
            "count raw/unr_netflow limit 10001",
            lambda: coll.count_documents({"itype": "raw", "sub_type": "unr_netflow"}, limit=10_001),
            pid,
        ),
        _probe(
            "distinct sub_type of raw", lambda: coll.distinct("sub_type", {"itype": "raw"}), pid
        ),
        _probe(
            "walk step sub_type > email, limit 1",
            lambda: list(
                coll.find(walk, {"sub_type": 1}).sort([("itype", 1), ("sub_type", 1)]).limit(1)
            ),
            pid,
        ),
        _probe(
            "find_one raw/unr_netflow",
            lambda: [coll.find_one({"itype": "raw", "sub_type": "unr_netflow"}, {"_id": 1})],
            pid,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", type=Path, help="Data directory kept for reruns (reused when filled)."
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probe", action="store_true", help="Also time single queries.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.keep or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        marker = data / "filled.json"
        server = LocalServer(data / "db", sync_on_commit=False).start()
        pid = server.process.pid if server.process else None
        try:
            if marker.exists():
                report = json.loads(marker.read_text())
                print(f"reusing {report['documents']} documents in {data}")
            else:
                print(f"filling {args.docs} documents into {data}", flush=True)
                filters = load_filters().filters
                client: MongoClient = MongoClient(server.uri)
                report = fill(client[DB]["instance"], filters, args.docs)
                client.close()
                report.update(real_slice(server.uri, args.corpus))
                marker.write_text(json.dumps(report, indent=2))
            report["commands"] = {}
            report["census"] = census_first(server.uri, pid)
            for label, command in COMMANDS.items():
                result = time_command(server.uri, pid, command, args.runs)
                report["commands"][label] = result
                print(
                    f"{label}: {result['wall_seconds']:.2f} s wall (min "
                    f"{result['wall_min_seconds']:.2f}), client CPU "
                    f"{result['client_cpu_seconds']:.2f} s, server CPU "
                    f"{result['server_cpu_seconds']} s, {result['output_lines']} lines",
                    flush=True,
                )
            print(report["commands"]["status"]["output_head"])
            if args.probe:
                report["probes"] = probes(server.uri, pid)
        finally:
            server.stop()
    for label, result in report["commands"].items():
        met = result["wall_seconds"] < TARGET_SECONDS
        print(
            f"{'met' if met else 'NOT met'}: {label} < {TARGET_SECONDS} s "
            f"({result['wall_seconds']:.2f} s)"
        )
    args.out.mkdir(exist_ok=True)
    path = args.out / f"status-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"details in {path}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
