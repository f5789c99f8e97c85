"""What each index set costs an output insert: the server's CPU for the same outputs.

    python benchmarks/index_cost.py [--cowrie 5000] [--rounds 2]   # with the core and cowrie
    python benchmarks/index_cost.py --workload email                # the email corpus

Processes ``--cowrie`` raw documents (or another workload of ``workloads.py``) once
(``run --once``, in this process), reads the
outputs back, then, in one run on one fresh SecantusDB, for each index set: a fresh
collection with those indexes and the raw documents (untimed), then one unordered
``insert_many`` of the outputs, timed (wall and the server's CPU from ``/proc``). Sets are
taken in turn, ``--rounds`` times over, so neighbours' load falls on all of them alike;
the median and best round of each are printed beside the floor's (unique ``_hash``, ``_ref``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from cpu import server_cpu
from pymongo import MongoClient
from pymongo.collection import Collection
from workloads import DEFAULT_CORPUS, WORKLOADS

from cybexp_core import Consumes
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.plugins import load_filters
from cybexp_core.server import LocalServer
from cybexp_core.worker import Runner

_QUEUE = [("itype", 1), ("sub_type", 1), ("_id", 1)]


def _floor(coll: Collection) -> None:
    coll.create_index([("_hash", 1)], unique=True)
    coll.create_index([("_ref", 1)])


def _archive(coll: Collection) -> None:
    """An archive's indexes (``Archive.ensure_indexes``): the claim index of every itype."""
    Archive(coll).ensure_indexes()


def _raw_only(coll: Collection) -> None:
    """The same with the claim index partial to raw (not kept: the census counts every
    itype through it)."""
    coll.create_index([("_hash", 1), ("itype", 1)], unique=True)
    coll.create_index([("_ref", 1)])
    coll.create_index(_QUEUE, partialFilterExpression={"itype": "raw"})


def _earlier_correlation(coll: Collection) -> None:
    """An archive's indexes and the correlation filter's ``(itype, _id)`` of every itype,
    as earlier versions made it."""
    _archive(coll)
    coll.create_index([("itype", 1), ("_id", 1)])


def _correlation(coll: Collection) -> None:
    """An archive's indexes and the correlation filter's ``(itype, _id)`` as the runner makes
    it now (partial to event)."""
    archive = Archive(coll)
    archive.ensure_indexes()
    archive.ensure_queue_index(Consumes("event"))


SETS: dict[str, Callable[[Collection], None]] = {
    "floor: unique _hash, _ref": _floor,
    "archive: + (itype, sub_type, _id) of every itype": _archive,
    "archive, (itype, sub_type, _id) partial to raw": _raw_only,
    "archive + (itype, _id) of every itype (earlier)": _earlier_correlation,
    "archive + (itype, _id) partial to event (now)": _correlation,
}


def outputs_of(
    client: MongoClient, corpus: Path, count: int, workload: str = "cowrie"
) -> tuple[list[dict], list[dict]]:
    """The raw documents and the outputs of ``run --once`` of ``workload``'s filters over them."""
    names, load = WORKLOADS[workload]
    archive = Archive(client["index_cost_source"]["instance"])
    archive.ensure_indexes()
    archive.insert_raw(load(corpus, count))
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name in names]
    report = load_filters(entry_points_=group, strict=True)
    Runner(archive, report.filters, Settings(mongo_url="mongodb://benchmark/")).run_once()
    raws = list(archive.collection.find({"itype": "raw"}))
    outputs = list(archive.collection.find({"itype": {"$ne": "raw"}}, {"_id": 0}))
    client.drop_database("index_cost_source")
    return raws, outputs


def measure(
    client: MongoClient, server: int | None, raws: list[dict], outputs: list[dict], rounds: int
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SETS}
    for _ in range(rounds):
        for index, (name, make) in enumerate(SETS.items()):
            db = f"index_cost_{index}"
            client.drop_database(db)
            coll = client[db]["instance"]
            make(coll)
            coll.insert_many([dict(doc) for doc in raws], ordered=False)
            docs = [dict(doc) for doc in outputs]
            before, started = server_cpu(server), time.perf_counter()
            coll.insert_many(docs, ordered=False)
            seconds, after = time.perf_counter() - started, server_cpu(server)
            cpu = None if before is None or after is None else after - before
            results[name].append({"seconds": seconds, "server_cpu_seconds": cpu or 0.0})
            client.drop_database(db)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--cowrie", type=int, default=5000, help="Cowrie raw documents.")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="cowrie")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalServer(Path(tmp) / "db", sync_on_commit=False).start()
        pid = server.process.pid if server.process else None
        client: MongoClient = MongoClient(server.uri)
        try:
            raws, outputs = outputs_of(client, args.corpus, args.cowrie, args.workload)
            results = measure(client, pid, raws, outputs, args.rounds)
        finally:
            client.close()
            server.stop()
    what = f"{len(raws)} {args.workload} raw documents"
    print(f"{len(outputs)} outputs of {what}, {args.rounds} rounds:")
    floor_cpu = statistics.median(r["server_cpu_seconds"] for r in next(iter(results.values())))
    for name, rows in results.items():
        cpus = [r["server_cpu_seconds"] for r in rows]
        median = statistics.median(cpus)
        wall = statistics.median(r["seconds"] for r in rows)
        ratio = median / floor_cpu if floor_cpu else 0.0
        print(
            f"  {name}: server CPU median {median:.2f} s ({ratio:.2f}x the floor's), "
            f"best {min(cpus):.2f} s; wall median {wall:.2f} s"
        )
    print(json.dumps({"outputs": len(outputs), "raws": len(raws), "rounds": results}))


if __name__ == "__main__":
    main()
