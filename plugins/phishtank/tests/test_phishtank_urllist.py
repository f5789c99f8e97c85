"""A bare URL list, as the original read every PhishTank document."""

from __future__ import annotations

import pytest

from cybexp_core import InputError
from cybexp_core.testing import run_filter


def test_url_list_needs_the_fetch_time(ingest) -> None:
    with pytest.raises(InputError, match=r"data\.timestamp"):
        run_filter("phishtank", ingest("urls.txt")[0])


def test_url_list_without_fetch_time_uses_the_time_it_was_stored(ingest) -> None:
    document = {**ingest("urls.txt")[0], "_received": 1_700_000_000.0}
    result = run_filter("phishtank", document)
    assert {e.timestamp for e in result.instances} == {1_700_000_000.0}
    fetched = {**ingest("urls.txt", timestamp=1_600_000_000)[0], "_received": 1_700_000_000.0}
    assert {e.timestamp for e in run_filter("phishtank", fetched).instances} == {1_600_000_000.0}


def test_url_list_gives_malicious_sightings_at_the_fetch_time(ingest) -> None:
    result = run_filter("phishtank", ingest("urls.txt", timestamp=1_600_000_000)[0])
    assert {e.data["url"][0] for e in result.instances} == {
        "http://one.example.com/a",
        "https://two.example.net/b",
        "http://203.0.113.5/c",
    }
    assert {e.timestamp for e in result.instances} == {1_600_000_000.0}
    assert {e.category for e in result.instances} == {"malicious"}
    ip_event = next(e for e in result.instances if "ipv4" in e.data)
    assert ip_event.data["ipv4"] == ["203.0.113.5"]
    (problem,) = result.problems
    assert problem.where == "line 5" and "not a url" in problem.reason
