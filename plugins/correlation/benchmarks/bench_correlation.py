"""How the cost of correlating one new event grows with the archive (synthetic data).

Builds an archive of correlated events and, at each size named on the command
line, adds batches of new events and times:

- ``correlate``: the correlation work proper, i.e. the filter on each new event
  and the upserts of its sessions (``Archive.write_instances``), no runner;
- ``run_once``: ``run --once`` with only the correlation filter over another
  batch, as users run it (claims, marks, and the runner's rewound pass over
  the queue, which is the core's and grows with the number of events);
- ``threatrank``: the incremental ThreatRank update around the new events.

Not a test: run it by hand (it takes a while on SecantusDB)::

    python plugins/correlation/benchmarks/bench_correlation.py 10000 100000

The events are shaped like the built-in filters' (a honeypot login with an
attacker address and a credential; sightings of a URL and its host; email
indicators) and draw their indicators from pools with a skewed (log-uniform
rank) distribution, so a few indicators are shared by many events, as in real
data. The history is built without the runner (same filter, same writes, marks
set in bulk) to save time. With ``$MONGO_URI`` set it uses that server, else
a SecantusDB child process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from cybexp_core import Attribute, Event, Object
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.hookspecs import ENTRY_POINT_GROUP
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.server import LocalServer
from cybexp_core.worker import Runner
from cybexp_filter_correlation.threatrank import update_scores

T0 = 1_700_000_000.0


class Pools:
    """Indicator pools; ``pick`` is skewed (rank r drawn with weight 1/r)."""

    def __init__(self, rng: random.Random, scale: int) -> None:
        self.rng = rng
        self.ips = [f"198.51.{n // 250 % 250}.{n % 250 + 1}" for n in range(max(50, scale // 20))]
        self.domains = [f"host{n}.example.org" for n in range(max(20, scale // 50))]
        self.paths = max(50, scale // 5)
        self.hashes = max(50, scale // 10)

    def pick(self, size: int) -> int:
        return min(size - 1, int(size ** self.rng.random()) - 1)


def events(rng: random.Random, pools: Pools, start: int, count: int) -> Iterator[Event]:
    for n in range(start, start + count):
        ts = T0 + n * 3.0
        kind = n % 4
        ip = Attribute("ipv4", pools.ips[pools.pick(len(pools.ips))])
        if kind == 0:
            cred = Object(
                "credential",
                [Attribute("username", "admin"), Attribute("password", f"pw{pools.pick(5000)}")],
            )
            yield Event(
                "login",
                [cred, Attribute("success", False), Object("attacker", [ip])],
                "honeynet",
                ts,
                mal_data=[ip],
                category="malicious",
            )
            continue
        domain = pools.domains[pools.pick(len(pools.domains))]
        url = Attribute("url", f"http://{domain}/p/{pools.pick(pools.paths)}")
        children: list[Any] = [url, Attribute("domain", domain)]
        if kind == 1:
            children.append(ip)
            yield Event("sighting", children, "feeds", ts, mal_data=[url], category="malicious")
        else:
            if rng.random() < 0.4:
                sha = f"{pools.pick(pools.hashes):064x}"
                children.append(Object("file", [Attribute("sha256", sha)]))
            children.append(Attribute("email_event", f"{n:064x}"))
            yield Event("email_indicators", children, f"org{n % 7}", ts)


def correlation_filter(cap: int | None) -> LoadedFilter:
    settings = {"correlation": {"max_events_per_indicator": cap}} if cap else {}
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "correlation"]
    return load_filters(entry_points_=found, settings=settings, strict=True).filters[0]


def correlate_directly(archive: Archive, flt: LoadedFilter, new: list[Event]) -> None:
    """The filter and its writes for ``new``, then the marks in bulk (history and timing)."""
    sessions = []
    for event in new:
        result = flt.run(event.doc)
        if result is not None:
            sessions.extend(result.instances)
    archive.write_instances(sessions)
    hashes = [e._hash for e in new]
    for k in range(0, len(hashes), 100):  # short $in lists: SecantusDB is slow with long ones
        archive.collection.update_many(
            {"_hash": {"$in": hashes[k : k + 100]}}, {"$addToSet": {"filters": flt.info.id}}
        )


def run_once(archive: Archive, flt: LoadedFilter) -> tuple[int, float]:
    runner = Runner(archive, [flt], Settings(mongo_url="mongodb://bench/"))
    started = time.perf_counter()
    summary = runner.run_once()
    return summary.filters["correlation"].processed, time.perf_counter() - started


def largest_session(archive: Archive) -> int:
    pipeline = [
        {"$match": {"itype": "session", "sub_type": "correlation"}},
        {"$project": {"n": {"$size": "$_ref"}}},
        {"$sort": {"n": -1}},
        {"$limit": 1},
    ]
    return next(archive.collection.aggregate(pipeline), {"n": 0})["n"]


def measure(
    archive: Archive,
    flt: LoadedFilter,
    rng: random.Random,
    pools: Pools,
    size: int,
    batch: int,
    rank: bool,
) -> dict[str, Any]:
    """Add three batches of new events to an archive of ``size``; time each way."""
    direct = list(events(rng, pools, size, batch))
    archive.write_instances(direct)
    started = time.perf_counter()
    correlate_directly(archive, flt, direct)
    direct_seconds = time.perf_counter() - started

    archive.write_instances(list(events(rng, pools, size + batch, batch)))
    processed, runner_seconds = run_once(archive, flt)

    coll = archive.collection
    result = {
        "archive_events": size,
        "correlate_ms_per_new_event": round(1000 * direct_seconds / batch, 3),
        "run_once_ms_per_new_event": round(1000 * runner_seconds / max(processed, 1), 3),
        "correlation_sessions": coll.count_documents({"itype": "session"}),
        "largest_session_refs": largest_session(archive),
        "saturated_sessions": coll.count_documents({"itype": "session", "saturated": True}),
    }
    if rank:
        started = time.perf_counter()
        report = update_scores(coll, decay=0.998, depth=2)
        seconds = time.perf_counter() - started
        result["threatrank_ms_per_new_event"] = round(1000 * seconds / (2 * batch), 3)
        result["threatrank_rescored"] = report.scored
    return result


def grow(
    archive: Archive, flt: LoadedFilter, rng: random.Random, pools: Pools, have: int, want: int
) -> int:
    """Write and correlate events until the archive holds ``want`` (no runner, no scores)."""
    step = 5000
    while have < want:
        count = min(step, want - have)
        new = list(events(rng, pools, have, count))
        archive.write_instances(new)
        correlate_directly(archive, flt, new)
        have += count
        print(f"  archive: {have} events", flush=True)
    # history counts as scored: the measured ThreatRank update sees only the new events
    archive.collection.update_many(
        {"itype": "event", "threatrank": {"$exists": False}},
        {"$set": {"threatrank": {"score": 0.0, "paths": 0, "seed": False}}},
    )
    run_once(archive, flt)  # the runner's queue state catches up with the history
    return have


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=1000, help="new events per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--cap", type=int, help="max_events_per_indicator (needs the core's session cap)"
    )
    parser.add_argument("--no-threatrank", action="store_true", help="skip ThreatRank")
    args = parser.parse_args()
    rng = random.Random(8)
    pools = Pools(rng, max(args.sizes))
    uri = os.environ.get("MONGO_URI")
    server = None
    if not uri:
        server = LocalServer(Path(tempfile.mkdtemp()) / "data", sync_on_commit=False).start()
        uri = server.uri
    archive = Archive.connect(Settings(mongo_url=uri, db="bench_correlation"))
    archive.collection.database.client.drop_database("bench_correlation")
    archive.ensure_indexes()
    results = []
    have = 0
    flt = correlation_filter(args.cap)
    try:
        for size in sorted(args.sizes):
            have = grow(archive, flt, rng, pools, have, size)
            result = measure(archive, flt, rng, pools, have, args.batch, not args.no_threatrank)
            have += 2 * args.batch
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        archive.collection.database.client.drop_database("bench_correlation")
        archive.close()
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
