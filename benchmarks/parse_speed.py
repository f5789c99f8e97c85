"""Parse + hash speed of a filter (Cowrie by default) in CPU time, cold and warm, no database.

    python benchmarks/parse_speed.py                 # the real Cowrie lines of the corpus
    python benchmarks/parse_speed.py --profile 30    # and the 30 costliest functions (cProfile)
    python benchmarks/parse_speed.py --worker        # the worker's share of one document, no DB
    python benchmarks/parse_speed.py --filter email  # another workload of benchmarks/workloads.py
    python benchmarks/parse_speed.py --repeat 5      # 5 fresh processes: median, min and max

Every real line of ``<corpus>/cowrie/*.json`` (not the ``DERIVED_`` files) becomes
the raw document ``ingest`` would store; each is run through the installed
``cowrie`` entry point (``LoadedFilter.run``: the pluggy call and the check of
its result), which builds and hashes every event and session. The cold pass is
the first one in this process (every cache of the filter empty, as in a fresh
worker); warm is the best of ``--passes`` further passes. Times are CPU seconds
of this process (``time.process_time``), so other load on a shared machine
barely moves them. :func:`measure` is what ``benchmarks/run.py`` may call.

``--worker`` measures, in a fresh process with cold caches, the CPU per raw document
of what the worker does in Python around the filter, without a database: the raw
hash check (``verify_raw``), the filter, the output bound, and every new output
document built and BSON-encoded once (the part of ``run``'s "worker us/doc" that is
parsing, building, hashing and encoding; the rest is claims, bookkeeping and the
driver).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import bson
import orjson
from workloads import WORKLOADS

from cybexp_core import Raw
from cybexp_core.integrity import verify_raw
from cybexp_core.models import Session, flatten
from cybexp_core.output_limits import bound_outputs
from cybexp_core.plugins import load_filters

HERE = Path(__file__).resolve().parent
#: ``shared/corpus`` beside the checkout, or beside a folder above it (a worktree).
DEFAULT_CORPUS = next(
    (up / "shared" / "corpus" for up in HERE.parents if (up / "shared" / "corpus").is_dir()),
    HERE.parent.parent / "shared" / "corpus",
)


def cowrie_documents(corpus: Path) -> list[dict[str, Any]]:
    """The raw documents of every real Cowrie line (lines that are not JSON objects skipped)."""
    docs = []
    for path in sorted((corpus / "cowrie").glob("*.json")):
        if path.name.startswith("DERIVED"):
            continue
        for line in path.read_bytes().splitlines():
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict):
                docs.append(Raw("cowrie", event, "bench-org").doc)
    return docs


def _run_all(run: Callable[[Mapping[str, Any]], Any], docs: list[dict[str, Any]]) -> float:
    """CPU seconds to run every document once (a document the filter refuses counts)."""
    started = time.process_time()
    for doc in docs:
        try:
            run(doc)
        except Exception:  # noqa: BLE001 - refused input is handled input
            continue
    return time.process_time() - started


def measure(docs: list[dict[str, Any]], passes: int = 3, name: str = "cowrie") -> dict[str, float]:
    """Events per CPU-second of the filter ``name`` over ``docs``: cold (first pass) and warm.

    Call it in a fresh process for a true cold figure. The documents are kept
    out of the cyclic garbage collector's scans (the runner holds one batch,
    not a whole corpus).
    """
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name == name]
    run = load_filters(entry_points_=group).filters[0].run
    gc.collect()
    gc.freeze()
    try:
        cold = _run_all(run, docs)
        warm = min(_run_all(run, docs) for _ in range(passes))
    finally:
        gc.unfreeze()
    return {
        "events": len(docs),
        "cold_cpu_seconds": cold,
        "cold_events_per_cpu_s": len(docs) / cold,
        "warm_cpu_seconds": warm,
        "warm_events_per_cpu_s": len(docs) / warm,
    }


def worker_side(docs: list[dict[str, Any]], name: str = "cowrie") -> dict[str, float]:
    """CPU seconds per document of the worker's parse, build, hash and encode work
    (cold caches: call it first in a fresh process)."""
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name == name]
    run = load_filters(entry_points_=group).filters[0].run
    gc.collect()
    gc.freeze()
    stored: set[str] = set()
    started = time.process_time()
    for doc in docs:
        size = verify_raw(doc)
        try:
            result = run(doc)
        except Exception:  # noqa: BLE001 - refused input is handled input
            continue
        kept, _ = bound_outputs(result.instances, 100_000, input_size=size)
        for instance in flatten(kept):
            if isinstance(instance, Session) or instance._hash not in stored:
                stored.add(instance._hash)
                bson.encode(instance.doc)
    seconds = time.process_time() - started
    gc.unfreeze()
    return {"documents": len(docs), "cpu_seconds": seconds, "us_per_doc": seconds / len(docs) * 1e6}


def workload_documents(name: str, corpus: Path) -> list[dict[str, Any]]:
    """The raw documents of workload ``name``: every real Cowrie line, or as ``run.py`` loads it."""
    if name == "cowrie":
        return cowrie_documents(corpus)
    return [raw.doc for raw in WORKLOADS[name][1](corpus, 0)]


def profile(docs: list[dict[str, Any]], top: int, name: str = "cowrie") -> None:
    """Print the ``top`` functions by own time over one cold pass (cProfile)."""
    group = [ep for ep in entry_points(group="cybexp.filters") if ep.name == name]
    run = load_filters(entry_points_=group).filters[0].run
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(_run_all, run, docs)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def repeated(times: int, arguments: list[str]) -> None:
    """Run this benchmark in ``times`` fresh processes (each cold pass is a true one) and
    print the median, lowest and highest cold and warm rates (a shared machine's spread)."""
    rates: dict[str, list[float]] = {"cold": [], "warm": []}
    for _ in range(times):
        line = subprocess.run(
            [sys.executable, __file__, *arguments], capture_output=True, text=True, check=True
        ).stdout
        print(line.strip(), flush=True)
        for kind in rates:
            rates[kind].append(float(line.split(f"{kind} ")[1].split()[0].replace(",", "")))
    print(
        "; ".join(
            f"{kind}: median {statistics.median(v):,.0f}, {min(v):,.0f}-{max(v):,.0f}"
            for kind, v in rates.items()
        )
        + f" per CPU-s over {times} fresh processes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--passes", type=int, default=3, help="Warm passes (the best counts).")
    parser.add_argument("--profile", type=int, metavar="N", help="Profile instead; print N rows.")
    parser.add_argument(
        "--worker", action="store_true", help="The worker's parse/build/hash/encode CPU per doc."
    )
    parser.add_argument(
        "--filter", default="cowrie", choices=sorted(WORKLOADS), help="Workload (default cowrie)."
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="Fresh processes to run (median, min, max)."
    )
    args = parser.parse_args()
    if args.repeat > 1:
        if args.profile or args.worker:
            parser.error("--repeat measures the parse + hash rates only")
        given = ["--corpus", str(args.corpus), "--passes", str(args.passes)]
        repeated(args.repeat, [*given, "--filter", args.filter])
        return
    name = args.filter
    try:
        docs = workload_documents(name, args.corpus)
    except FileNotFoundError:
        docs = []
    if not docs:
        parser.error(f"no {name} documents under {args.corpus}")
    if args.profile:
        profile(docs, args.profile, name)
        return
    if args.worker:
        side = worker_side(docs, name)
        print(
            f"{side['documents']} {name} documents, worker's own work without a database "
            f"(verify_raw, filter, output documents + BSON), cold: "
            f"{side['us_per_doc']:.1f} us CPU per document ({side['cpu_seconds']:.3f} CPU s)"
        )
        return
    result = measure(docs, args.passes, name)
    unit = "events" if name == "cowrie" else "documents"
    print(
        f"{result['events']} {name} {unit}, parse + hash: "
        f"cold {result['cold_events_per_cpu_s']:,.0f} {unit}/CPU-s "
        f"({result['cold_cpu_seconds']:.3f} CPU s), "
        f"warm {result['warm_events_per_cpu_s']:,.0f} {unit}/CPU-s "
        f"({result['warm_cpu_seconds']:.3f} CPU s, best of {args.passes})"
    )


if __name__ == "__main__":
    main()
