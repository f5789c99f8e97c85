"""The main job on sample data: ingest examples/, run every filter once, report.

Run it with ``python3 dev.py demo`` (from a fresh clone). With no MongoDB
configured, ``cybexp-analytics`` uses its embedded server; this script keeps
one running for the whole demo so the commands share it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cybexp_core.embedded import EmbeddedServer

#: When the sample OpenPhish feed was fetched (its lines carry no time).
FEED_FETCHED_AT = "1763625600"


def cli(*args: str, check: bool = True) -> None:
    command = [shutil.which("cybexp-analytics") or "cybexp-analytics", "--db", "cybexp_demo", *args]
    print("\n$", " ".join(["cybexp-analytics", *command[1:]]), flush=True)
    result = subprocess.run(command, check=False)
    if check and result.returncode != 0:
        sys.exit(result.returncode)


def main(examples: Path) -> None:
    configured = os.environ.get("CYBEXP_MONGO_URL")
    with contextlib.ExitStack() as stack:
        if not configured:
            server = stack.enter_context(EmbeddedServer())
            print(f"embedded server at {server.uri}, data in {server.directory}")
        cli("plugins")
        cli("ingest", "--sub-type", "cowrie", "--orgid", "demo-org", str(examples / "cowrie.jsonl"))
        cli("ingest", "--sub-type", "email", "--format", "file", "--orgid", "demo-org",
            str(examples / "phish-email.eml"))
        cli("ingest", "--sub-type", "openphish_feed", "--format", "file", "--orgid", "demo-org",
            "--timestamp", FEED_FETCHED_AT, str(examples / "openphish.txt"))
        cli("ingest", "--sub-type", "phishtank_feed", "--format", "file", "--orgid", "demo-org",
            str(examples / "phishtank.csv"))
        cli("ingest", "--sub-type", "sighting", "--orgid", "demo-org",
            str(examples / "sightings.jsonl"))
        cli("run", "--once")
        cli("status")
        cli("failed", "list")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
