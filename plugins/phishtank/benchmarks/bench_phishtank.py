"""End-to-end run of PhishTank dumps: ``cybexp-analytics ingest`` then ``run --once``.

Usage::

    python benchmarks/bench_phishtank.py FILE...          # real dumps
    python benchmarks/bench_phishtank.py --rows 100000    # a synthetic CSV dump

It starts its own SecantusDB (``cybexp-core[embedded]``) in a temporary
directory, runs the CLI as a user would, and prints rows/s, the instances
made, the largest raw document and ``_ref`` list, and the CLI's peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bson
from pymongo import MongoClient

from cybexp_core.server import LocalServer

HEADER = "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target"
TARGETS = ["Other"] * 8 + ["PayPal", "Example Bank", '"Bank of Example, N.A."', "Facebook"]


def synthetic_dump(path: Path, rows: int, seed: int = 5) -> Path:
    """A PhishTank-shaped CSV of ``rows`` phishes on about rows/5 hosts (no real data)."""
    rng = random.Random(seed)
    start = datetime(2019, 5, 15, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for n in range(rows):
            pid = 6_000_000 + n
            host = (
                f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
                if rng.random() < 0.05
                else f"site{rng.randrange(rows // 5 + 1)}.example.com"
            )
            url = (
                f"{rng.choice(['http', 'https'])}://{host}/login/{rng.getrandbits(48):x}/index.php"
            )
            seen = start - timedelta(seconds=n * 37)
            checked = seen + timedelta(minutes=rng.randrange(1, 60))
            out.write(
                f"{pid},{url},http://www.phishtank.com/phish_detail.php?phish_id={pid},"
                f"{seen.isoformat()},yes,{checked.isoformat()},yes,{rng.choice(TARGETS)}\n"
            )
    return path


def _cli(uri: str, *args: str) -> tuple[float, str, int]:
    """Run the CLI; return (seconds, stdout, peak RSS in KiB)."""
    cli = str(Path(sys.executable).parent / "cybexp-analytics")
    command = ["/usr/bin/time", "-f", "%M", cli, "--mongo-url", uri, "--db", "bench", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    peak = int(done.stderr.strip().splitlines()[-1])
    return elapsed, done.stdout, peak


def _rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rows", type=int, help="generate a synthetic dump of this many rows")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = list(options.files)
        if options.rows:
            files.append(synthetic_dump(Path(tmp) / f"synthetic-{options.rows}.csv", options.rows))
        server = LocalServer(Path(tmp) / "db", sync_on_commit=False).start()
        try:
            for path in files:
                coll = MongoClient(server.uri)["bench"]["instance"]
                coll.drop()
                ingest_s, out, ingest_kib = _cli(
                    server.uri,
                    "ingest",
                    "--sub-type",
                    "phishtank_feed",
                    "--format",
                    "file",
                    str(path),
                )
                run_s, out, run_kib = _cli(
                    server.uri,
                    "run",
                    "--once",
                    "--filter",
                    "phishtank",
                    "--json",
                )
                summary = json.loads(out)
                raws = list(coll.find({"itype": "raw"}))
                rows = _rows(path)
                report = {
                    "file": path.name,
                    "rows": rows,
                    "raw_documents": len(raws),
                    "largest_raw_bytes": max(len(bson.encode(r)) for r in raws),
                    "largest_raw_ref": max(len(r.get("_ref", [])) for r in raws),
                    "ref_truncated": sum("_ref_truncated" in r for r in raws),
                    "events": coll.count_documents({"itype": "event"}),
                    "attributes": coll.count_documents({"itype": "attribute"}),
                    "objects": coll.count_documents({"itype": "object"}),
                    "problems": sum(
                        p.get("count", 0) for r in raws for p in (r.get("_problems") or {}).values()
                    ),
                    "ingest_s": round(ingest_s, 2),
                    "run_s": round(run_s, 2),
                    "rows_per_s_end_to_end": round(rows / (ingest_s + run_s)),
                    "rows_per_s_run": round(rows / run_s),
                    "peak_rss_mib_ingest": round(ingest_kib / 1024),
                    "peak_rss_mib_run": round(run_kib / 1024),
                    "summary": summary,
                }
                print(json.dumps(report, indent=1, default=str))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
