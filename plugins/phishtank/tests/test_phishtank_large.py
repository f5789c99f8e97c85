"""A synthetic 100k-row dump: bounded documents, bounded memory, every row made."""

from __future__ import annotations

import resource
from pathlib import Path

import bson
import pytest

from cybexp_core.backend import MAX_RAW_REFS
from cybexp_core.ingest import read_file
from cybexp_core.testing import load_filter

MONGO_LIMIT = 16 * 1024 * 1024
ROWS = 100_000


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_100k_row_dump(tmp_path: Path, synthetic_dump) -> None:
    dump = synthetic_dump(tmp_path / "online-valid.csv", ROWS)
    assert dump.stat().st_size > 16 * 1024 * 1024  # it could not be one document
    phishtank = load_filter("phishtank")
    events: set[str] = set()
    peaks = []
    parts = 0
    for raw in read_file(dump, "phishtank_feed", "test_org", "UTC"):
        parts += 1
        doc = raw.doc
        assert len(bson.encode(doc)) < MONGO_LIMIT
        result = phishtank.run(doc)
        assert result.problems == ()
        # Every event of a part fits in the raw document's _ref (outputs come first).
        assert len(result.instances) <= MAX_RAW_REFS
        events.update(event._hash for event in result.instances)
        del doc, result
        peaks.append(_peak_rss_mib())
    assert parts >= 5
    assert len(events) == ROWS
    # Memory is bounded by one part: it does not grow with the parts after the first.
    assert peaks[-1] - peaks[0] < 64, peaks
