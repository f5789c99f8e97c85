"""Memory per document (issue 17 item 10): the biggest document the filter accepts is
processed by ``run --once`` in under 300 MB, measured from /proc in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cybexp_core import InputError
from cybexp_core.models import Raw
from cybexp_core.testing import run_filter
from cybexp_filter_phishtank.feed import MAX_ROWS

LIMIT_MIB = 300


def _peak_mib(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``command``; its peak RSS (VmHWM, read from /proc while it runs) in MiB."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    status = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    out, err = child.communicate()
    return peak / 1024, subprocess.CompletedProcess(command, child.returncode, out, err)


@pytest.mark.slow
def test_the_biggest_accepted_document_runs_in_under_300_mb(
    tmp_path: Path, archive, mongo_uri: str, synthetic_dump
) -> None:
    text = synthetic_dump(
        tmp_path / "dump.csv", MAX_ROWS - 1
    ).read_text()  # with the header: MAX_ROWS lines
    archive.insert_raw([Raw("phishtank_feed", {"data": text}, "test_org", "UTC")])
    cli = str(Path(sys.executable).parent / "cybexp-analytics")
    db = archive.collection.database.name
    command = [cli, "--mongo-url", mongo_uri, "--db", db, "run", "--once", "--json"]
    peak, done = _peak_mib([*command, "--filter", "phishtank"])
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads(done.stdout)["filters"]["phishtank"]
    assert (stats["processed"], stats["failed"]) == (1, 0)
    assert archive.collection.count_documents({"itype": "event"}) == MAX_ROWS - 1
    print(f"peak RSS of run --once over a {MAX_ROWS}-row document: {peak:.0f} MiB")
    assert peak < LIMIT_MIB


def test_a_bigger_document_fails_at_once_with_the_way_to_store_it(tmp_path: Path) -> None:
    text = "\n".join(f"http://x{n}.example.com/" for n in range(MAX_ROWS + 5))
    started = time.process_time()
    with pytest.raises(InputError, match=r"the limit is 10000 .*ingest --format file"):
        run_filter("phishtank", Raw("phishtank_feed", {"data": text, "timestamp": 1}, "o").doc)
    assert time.process_time() - started < 1.0  # refused before parsing
