"""Parse + hash throughput of the Cowrie filter, no database.

Usage: python benchmarks/bench_parse.py [CORPUS_DIR_OR_FILES...] [--repeat N]

Each line is parsed with orjson into a raw document and run through the
installed entry point (``LoadedFilter.run``: pluggy call, validation of the
result), which builds and hashes every event and session. Lines that are not
JSON objects are skipped (``ingest`` refuses them too). Prints events per
second of CPU time, the best of ``--repeat`` passes, with caches warm after
the first pass and, separately, for the first (cold) pass.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

from cybexp_core import InputError
from cybexp_core.testing import load_filter

DEFAULT_CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cowrie"


def read_lines(paths: list[Path]) -> list[bytes]:
    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    return [line for f in files for line in f.read_bytes().splitlines() if line.strip()]


def one_pass(lines: list[bytes], run) -> tuple[float, int, int]:
    ok = failed = 0
    start = time.process_time()
    for line in lines:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        try:
            run({"itype": "raw", "sub_type": "cowrie", "data": data, "orgid": "bench"})
            ok += 1
        except InputError:
            failed += 1
    return time.process_time() - start, ok, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_CORPUS])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        sys.exit(f"not found: {missing} (pass the Cowrie corpus directory)")
    lines = read_lines(args.paths)
    if not lines:
        sys.exit(f"no lines in {args.paths}")
    run = load_filter("cowrie").run
    cold, ok, failed = one_pass(lines, run)
    warm = min(one_pass(lines, run)[0] for _ in range(args.repeat))
    total = ok + failed
    print(f"{len(lines)} lines, {ok} processed, {failed} failed (InputError)")
    print(f"cold pass: {total / cold:,.0f} events/s")
    per_event = warm * 1e6 / total
    print(f"warm best of {args.repeat}: {total / warm:,.0f} events/s ({per_event:.1f} us/event)")


if __name__ == "__main__":
    main()
