"""The daemon loop of ``run`` against a live server: new data, stopping, the summary."""

from __future__ import annotations

import threading
import time
from typing import Any

from cybexp_core import Raw
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.daemon import Daemon
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.worker import Runner, RunSummary
from fakes import entry_point

IPS = entry_point("ips", "fakes:ip_sightings")
CORRELATE = entry_point("correlate", "fakes:ip_correlator")


def _filters(*eps: Any) -> list[LoadedFilter]:
    report = load_filters(entry_points_=list(eps))
    assert not report.errors, report.errors
    return report.filters


def _store(archive: Archive, *datas: dict[str, Any]) -> None:
    archive.insert_raw([Raw("demo", data, "org1") for data in datas])


def test_the_daemon_picks_up_new_data_stops_on_request_and_counts_its_time(
    archive: Archive,
) -> None:
    archive.ensure_indexes()
    runner = Runner(archive, _filters(IPS, CORRELATE), Settings(mongo_url="x", max_idle=0.2))
    result: list[RunSummary] = []
    worker = threading.Thread(target=lambda: result.append(Daemon(runner).run()))
    worker.start()
    try:
        time.sleep(0.5)  # both filters idle now
        _store(archive, {"ips": ["10.9.9.9"], "ts": 5})
        deadline = time.monotonic() + 30
        while archive.collection.count_documents({"itype": "session"}) == 0:
            assert time.monotonic() < deadline, "new data was not processed"
            time.sleep(0.1)
    finally:
        runner.stop_event.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert archive.collection.count_documents({"filters": "fake-ips"}) == 1
    summary = result[0]
    assert summary.seconds >= 0.5, "the summary gives the time the daemon ran"
    assert summary.filters["ips"].processed == 1
