"""cybexp-analytics benchmark: throughput, MongoDB commands, memory, and the database floor.

    python3 dev.py benchmark                 # via nox: installs the core and every plugin
    python benchmarks/run.py --help          # in an environment that has them

For each workload (Cowrie, email, OpenPhish, PhishTank) it loads raw documents from the corpus
(``../shared/corpus`` by default) into a fresh database on a fresh server, then:

1. times parse + hash alone (the plugins through their entry points, no database);
2. runs ``run --once`` end to end in a child process, counting MongoDB commands
   (pymongo command monitoring) and reading its peak RSS;
3. measures the *floor*: the same server's time for the minimum writes that
   output needs (one unordered ``insert_many`` of the new instance documents and
   one bulk write of the raw-document marks), and prints our time against it.

It then compares peak RSS while working through 10k and 200k pending documents
(``--no-memory`` skips that). The defaults give the README's table.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import orjson
from pymongo import MongoClient, UpdateOne

from cybexp_core import Raw
from cybexp_core.backend import Archive, flatten
from cybexp_core.ingest import read_file
from cybexp_core.plugins import load_filters
from cybexp_core.server import LocalServer

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpus"
#: The original analytics module on this kind of machine and server (issue 7).
ORIGINAL = {"cowrie": 9.0, "openphish": 2.0}


# ---------------------------------------------------------------------------- workloads


def cowrie_docs(corpus: Path, count: int) -> list[Raw]:
    """Real Cowrie lines; past the corpus size, replicas with new session ids."""
    lines = [
        line
        for path in sorted((corpus / "cowrie").glob("*.json"))
        if not path.name.startswith("DERIVED")
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]
    events = [orjson.loads(line) for line in lines]
    raws: list[Raw] = []
    replica = 0
    while len(raws) < count:
        for event in events:
            if len(raws) >= count:
                break
            if replica:
                event = {**event, "session": f"{event.get('session')}-r{replica}"}
            raws.append(Raw("cowrie", event, "bench-org"))
        replica += 1
    return raws


def email_docs(corpus: Path) -> list[Raw]:
    return [
        raw
        for path in sorted((corpus / "email").glob("*.eml"))
        for raw in read_file(path, "email", "bench-org", "UTC")
    ]


def openphish_docs(corpus: Path, urls_per_doc: int = 50) -> list[Raw]:
    """OpenPhish lines in documents of 50 URLs: the original's measure of a feed document."""
    raws: list[Raw] = []
    for path in sorted((corpus / "feeds").glob("openphish__*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(lines), urls_per_doc):
            text = "\n".join(lines[start : start + urls_per_doc])
            raws.append(
                Raw("openphish_feed", {"data": text, "timestamp": 1763625600.0}, "bench-org")
            )
    return raws


def phishtank_docs(corpus: Path) -> list[Raw]:
    """The PhishTank CSV dump(s) as ``ingest --format file`` stores them."""
    return [
        raw
        for path in sorted((corpus / "feeds").glob("phishtank__*.csv"))
        for raw in read_file(path, "phishtank_feed", "bench-org", "UTC")
    ]


WORKLOADS = {
    "cowrie": (["cowrie"], lambda corpus, n: cowrie_docs(corpus, n)),
    "email": (["email"], lambda corpus, n: email_docs(corpus)),
    "openphish": (["openphish"], lambda corpus, n: openphish_docs(corpus)),
    "phishtank": (["phishtank"], lambda corpus, n: phishtank_docs(corpus)),
}


# ---------------------------------------------------------------------------- measurements


def parse_only(names: list[str], raws: list[Raw], passes: int = 3) -> dict[str, float]:
    """Parse + hash with no database, on one core.

    The first pass runs with the filters' caches cold (a fresh worker); the best
    of the next ``passes`` is the steady state of a long-running worker. Instances
    are counted afterwards, outside the timed loops.
    """
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name in names]
    filters = load_filters(entry_points_=group).filters
    docs = [raw.doc for raw in raws]
    # The runner holds one batch, not the whole corpus: keep the corpus out of the
    # cyclic garbage collector's scans, or they would be timed here.
    gc.collect()
    gc.freeze()
    routes = [
        [flt for flt in filters if any(c.sub_type == doc["sub_type"] for c in flt.info.consumes)]
        for doc in docs
    ]

    def results() -> Iterator[Any]:
        for doc, route in zip(docs, routes, strict=True):
            for flt in route:
                try:
                    result = flt.run(dict(doc))
                except Exception:  # noqa: BLE001 - bad input counts as handled
                    continue
                yield result

    def one_pass() -> float:
        started = time.perf_counter()
        for _ in results():
            pass
        return time.perf_counter() - started

    cold = one_pass()
    warm = min(one_pass() for _ in range(passes))
    instances = sum(
        sum(1 for _ in flatten(result.instances)) for result in results() if result is not None
    )
    gc.unfreeze()
    return {
        "seconds": cold,
        "docs_per_s": len(docs) / cold,
        "instances_per_s": instances / cold,
        "warm_docs_per_s": len(docs) / warm,
        "warm_instances_per_s": instances / warm,
    }


def end_to_end(uri: str, db: str, names: list[str], stop_after: int = 0) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "child.py"), uri, db, ",".join(names)]
    if stop_after:
        command.append(str(stop_after))
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def floor(client: MongoClient, source_db: str, floor_db: str) -> dict[str, float]:
    """Time the minimum writes the output of ``source_db`` needs, on the same server."""
    source = client[source_db]["instance"]
    instances = list(source.find({"itype": {"$ne": "raw"}}, {"_id": 0, "filters": 0}))
    raws = list(source.find({"itype": "raw"}))
    marks = [
        UpdateOne(
            {"_id": raw["_id"]},
            {
                "$addToSet": {"filters": {"$each": raw.get("filters", [])}},
                "$push": {"_ref": {"$each": raw.get("_ref", [])}},
            },
        )
        for raw in raws
    ]
    for raw in raws:
        for key in ("filters", "_ref", "_failed", "_problems", "_ref_truncated"):
            raw.pop(key, None)
    target = Archive(client[floor_db]["instance"])
    target.ensure_indexes()
    target.collection.insert_many(raws, ordered=False)
    started = time.perf_counter()
    if instances:
        target.collection.insert_many(instances, ordered=False)
    inserted = time.perf_counter()
    if marks:
        target.collection.bulk_write(marks, ordered=False)
    return {
        "seconds": time.perf_counter() - started,
        "insert_seconds": inserted - started,
        "instances": len(instances),
        "marks": len(marks),
    }


def run_workload(name: str, corpus: Path, count: int, uri: str) -> dict[str, Any]:
    names, load = WORKLOADS[name]
    raws = load(corpus, count)
    client: MongoClient = MongoClient(uri)
    db = f"bench_{name}"
    client.drop_database(db)
    client.drop_database(f"{db}_floor")
    archive = Archive(client[db]["instance"])
    archive.ensure_indexes()
    archive.insert_raw(raws)
    parse = parse_only(names, raws)
    e2e = end_to_end(uri, db, names)
    base = floor(client, db, f"{db}_floor")
    commands = sum(e2e["commands"].values())
    totals = [
        sum(f[k] for f in e2e["summary"]["filters"].values())
        for k in ("processed", "failed", "skipped", "instances")
    ]
    result = {
        "workload": name,
        "raw_documents": len(raws),
        "processed": totals[0],
        "failed": totals[1],
        "skipped": totals[2],
        "parse_docs_per_s": parse["docs_per_s"],
        "parse_instances_per_s": parse["instances_per_s"],
        "parse_warm_docs_per_s": parse["warm_docs_per_s"],
        "e2e_seconds": e2e["seconds"],
        "e2e_docs_per_s": len(raws) / e2e["seconds"],
        "e2e_instances_per_s": totals[3] / e2e["seconds"],
        "commands_per_doc": commands / len(raws),
        "commands": e2e["commands"],
        "command_seconds": e2e["command_seconds"],
        "peak_rss_mb": e2e["peak_rss_mb"],
        "floor_seconds": base["seconds"],
        "floor_insert_seconds": base["insert_seconds"],
        "new_instance_documents": base["instances"],
        "share_of_floor": base["seconds"] / e2e["seconds"],
    }
    if ORIGINAL.get(name):
        result["speedup_vs_original"] = result["e2e_docs_per_s"] / ORIGINAL[name]
    client.drop_database(f"{db}_floor")
    client.close()
    return result


def memory(corpus: Path, uri: str, backlogs: tuple[int, ...], work: int) -> list[dict[str, Any]]:
    """Peak RSS while processing ``work`` documents of different backlogs."""
    rows = []
    client: MongoClient = MongoClient(uri)
    for backlog in backlogs:
        db = f"bench_memory_{backlog}"
        client.drop_database(db)
        archive = Archive(client[db]["instance"])
        archive.ensure_indexes()
        for chunk in _chunks(cowrie_docs(corpus, backlog), 5000):
            archive.insert_raw(chunk)
        e2e = end_to_end(uri, db, ["cowrie"], stop_after=work)
        rows.append(
            {
                "backlog": backlog,
                "processed": work,
                "peak_rss_mb": e2e["peak_rss_mb"],
                "docs_per_s": work / e2e["seconds"],
            }
        )
        client.drop_database(db)
    client.close()
    return rows


def _chunks(items: list[Raw], size: int) -> Iterator[list[Raw]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------- report


def _print(results: list[dict[str, Any]]) -> None:
    header = (
        "workload",
        "raw docs",
        "e2e docs/s",
        "instances/s",
        "cmds/doc",
        "peak RSS MB",
        "floor share",
        "x original",
        "parse docs/s (cold)",
        "parse docs/s (warm)",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                [
                    r["workload"],
                    str(r["raw_documents"]),
                    f"{r['e2e_docs_per_s']:.0f}",
                    f"{r['e2e_instances_per_s']:.0f}",
                    f"{r['commands_per_doc']:.4f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['share_of_floor']:.0%}",
                    f"{r.get('speedup_vs_original', 0):.0f}"
                    if r.get("speedup_vs_original")
                    else "-",
                    f"{r['parse_docs_per_s']:.0f}",
                    f"{r['parse_warm_docs_per_s']:.0f}",
                ]
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--mongo-url", help="Use this server instead of starting a fresh one.")
    parser.add_argument("--cowrie", type=int, default=17_000, help="Cowrie documents.")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    parser.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="Skip comparing peak RSS with 10k and 200k pending documents (takes minutes).",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if not args.corpus.exists():
        parser.error(f"corpus {args.corpus} not found (see --corpus)")
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        uri = args.mongo_url
        if not uri:
            server = LocalServer(Path(tmp) / "db", sync_on_commit=False).start()
            uri = server.uri
        try:
            results = []
            for name in args.only or list(WORKLOADS):
                results.append(run_workload(name, args.corpus, args.cowrie, uri))
                print(json.dumps(results[-1]), flush=True)
            _print(results)
            report: dict[str, Any] = {"results": results}
            if args.memory:
                report["memory"] = memory(args.corpus, uri, (10_000, 200_000), 10_000)
                for row in report["memory"]:
                    print(
                        f"backlog {row['backlog']}: peak RSS {row['peak_rss_mb']:.0f} MB "
                        f"({row['docs_per_s']:.0f} docs/s)"
                    )
        finally:
            if server is not None:
                server.stop()
    args.out.mkdir(exist_ok=True)
    path = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"details in {path}")


if __name__ == "__main__":
    main()
