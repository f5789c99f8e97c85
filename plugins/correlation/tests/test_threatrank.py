"""ThreatRank on a small graph whose scores were computed by hand.

The graph (decay 0.5 per day so that the powers are easy; depth 2 = at most two
shared indicators on a path). Events, with their day and their indicators:

    M1  day 0  malicious   A
    E1  day 1              A, B
    E2  day 2              B, C
    M2  day 2  malicious   C
    E3  day 1              A

    A = ipv4 198.51.100.1, B = url http://b.example.org/x, C = domain c.example.org

Degrees: L(M1)=1, L(E1)=2, L(E2)=2, L(M2)=1, L(E3)=1; L(A)=3, L(B)=2, L(C)=2.
A path from a seed s to the scored event e contributes the product, over
every node before e, of 0.5**|day(e) - day(node)| / L(node) for an event
and 1 / L(node) for an indicator.

E1 (day 1):
    M1-A-E1        (0.5**1 / 1) * (1/3)                                  = 1/6
    M2-C-E2-B-E1   (0.5**1 / 1) * (1/2) * (0.5**1 / 2) * (1/2)           = 1/32
    total 1/6 + 1/32 = 0.197916666...  (2 paths)
E2 (day 2):
    M2-C-E2        (0.5**0 / 1) * (1/2)                                  = 1/2
    M1-A-E1-B-E2   (0.5**2 / 1) * (1/3) * (0.5**1 / 2) * (1/2)           = 1/96
    total 1/2 + 1/96 = 0.510416666...  (2 paths)
E3 (day 1):
    M1-A-E3        (0.5**1 / 1) * (1/3)                                  = 1/6
    (M2-C-E2-B-E1-A-E3 crosses 3 indicators: beyond depth 2)
    total 1/6 = 0.166666...  (1 path)
    with depth 3 it adds (0.5/1)*(1/2)*(0.5/2)*(1/2)*(0.5**0/2)*(1/3) = 1/192:
    total 33/192 = 0.171875  (2 paths)
M1, M2: known malicious, score 1.

Then a new event E4 (day 2, indicator C) arrives. L(C) becomes 3:
E2: M2-C-E2 = 1 * 1/3 = 1/3; M1-A-E1-B-E2 = 1/96 (unchanged): 33/96 = 0.34375
E1: 1/6 + (0.5/1)*(1/3)*(0.5/2)*(1/2) = 1/6 + 1/48 = 9/48 = 0.1875
E4: M2-C-E4 = 1 * 1/3 = 0.333333...   (M1-A-E1-B-E2-C-E4 crosses 3 indicators)
E3: unchanged, 1/6; and it is not rescored (it is 3 indicators away from E4).

With --max-degree 2, A (3 events) leaves the graph: L(M1)=0, L(E1)=1, L(E3)=0.
E1: only M2-C-E2-B-E1 is left, (0.5/1) * (1/2) * (0.5/2) * (1/2) = 1/32 = 0.03125
(E1's own degree never counts); E3: no path, 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from correlation_events import DAY, T0, sighting

from cybexp_core import Attribute, Event
from cybexp_core.app import App
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_filter_correlation.rank import EventNode, Graph, score_events
from cybexp_filter_correlation.threatrank import threatrank, update_scores

A = Attribute("ipv4", "198.51.100.1")
B = Attribute("url", "http://b.example.org/x")
C = Attribute("domain", "c.example.org")

M1 = sighting(A, orgid="feed", ts=T0, malicious=True)
E1 = sighting(A, B, orgid="org1", ts=T0 + 1 * DAY)
E2 = sighting(B, C, orgid="org2", ts=T0 + 2 * DAY)
M2 = sighting(C, orgid="feed", ts=T0 + 2 * DAY, malicious=True)
E3 = sighting(A, orgid="org3", ts=T0 + 1 * DAY)
E4 = sighting(C, orgid="org4", ts=T0 + 2 * DAY)

NAMES = {
    e._hash: name
    for name, e in [("M1", M1), ("E1", E1), ("E2", E2), ("M2", M2), ("E3", E3), ("E4", E4)]
}

EXPECTED = {"M1": 1.0, "M2": 1.0, "E1": 1 / 6 + 1 / 32, "E2": 1 / 2 + 1 / 96, "E3": 1 / 6}
EXPECTED_PATHS = {"M1": 0, "M2": 0, "E1": 2, "E2": 2, "E3": 1}


def graph_of(events: list[Event]) -> Graph:
    return Graph.from_edges(
        {e._hash: EventNode(e.timestamp, e.category == "malicious") for e in events},
        [(e._hash, child.sub_type) for e in events for child in e.children],
    )


def named(scores: dict[str, Any]) -> dict[str, float]:
    return {NAMES[h]: s.score for h, s in scores.items()}


def test_hand_computed_scores_in_memory() -> None:
    events = [M1, E1, E2, M2, E3]
    scores = score_events(graph_of(events), [e._hash for e in events], decay=0.5, depth=2)
    assert named(scores) == pytest.approx(EXPECTED, rel=1e-12)
    assert {NAMES[h]: s.paths for h, s in scores.items()} == EXPECTED_PATHS
    assert {NAMES[h] for h, s in scores.items() if s.seed} == {"M1", "M2"}


def test_depth_is_configurable() -> None:
    scores = score_events(graph_of([M1, E1, E2, M2, E3]), [E3._hash], decay=0.5, depth=3)
    assert scores[E3._hash].score == pytest.approx(33 / 192, rel=1e-12)
    assert scores[E3._hash].paths == 2


def test_decay_is_configurable() -> None:
    """With no decay (1.0) E3's single path is just 1/L(M1) * 1/L(A) = 1/3."""
    scores = score_events(graph_of([M1, E1, E2, M2, E3]), [E3._hash], decay=1.0, depth=2)
    assert scores[E3._hash].score == pytest.approx(1 / 3, rel=1e-12)


@pytest.fixture
def ranked(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any]
) -> Callable[..., dict[str, dict[str, Any]]]:
    """Correlate the stored events, run ThreatRank, return the stored scores by name."""

    def run(**options: Any) -> dict[str, dict[str, Any]]:
        correlate()
        update_scores(archive.collection, decay=0.5, depth=2, **options)
        docs = archive.collection.find({"itype": "event"}, {"_hash": 1, "threatrank": 1})
        return {NAMES[d["_hash"]]: d["threatrank"] for d in docs if "threatrank" in d}

    return run


def test_hand_computed_scores_stored_in_the_archive(
    store: Callable[..., None], ranked: Callable[..., dict[str, dict[str, Any]]]
) -> None:
    store([M1, E1, E2, M2, E3])
    stored = ranked()
    assert {k: v["score"] for k, v in stored.items()} == pytest.approx(EXPECTED, rel=1e-12)
    assert {k: v["paths"] for k, v in stored.items()} == EXPECTED_PATHS
    assert stored["E1"]["decay"] == 0.5 and stored["E1"]["depth"] == 2
    assert stored["M1"]["seed"] is True and stored["E1"]["seed"] is False


def test_new_evidence_updates_only_the_neighbourhood(
    archive: Archive, store: Callable[..., None], ranked: Callable[..., dict[str, dict[str, Any]]]
) -> None:
    store([M1, E1, E2, M2, E3])
    first = ranked()
    store([E4])
    second = ranked()
    assert second["E2"]["score"] == pytest.approx(33 / 96, rel=1e-12)
    assert second["E1"]["score"] == pytest.approx(9 / 48, rel=1e-12)
    assert second["E4"]["score"] == pytest.approx(1 / 3, rel=1e-12)
    assert second["E4"]["paths"] == 1
    # E3 is three indicators from E4: not rescored, score unchanged
    assert second["E3"] == first["E3"]
    assert second["E2"]["computed_at"] > first["E2"]["computed_at"]


def test_since_rescores_around_the_events_stored_since(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any]
) -> None:
    store([M1, E1, E2, M2, E3])
    correlate()
    time.sleep(1.1)  # ObjectId times have whole seconds
    since = time.time()
    store([E4])
    correlate()
    report = update_scores(archive.collection, since=since, decay=0.5, depth=2)
    assert report.new == 1  # E4 only
    docs = archive.collection.find({"threatrank": {"$exists": True}}, {"_hash": 1})
    assert {NAMES[d["_hash"]] for d in docs} == {"E1", "E2", "M2", "E4"}


def test_rescoring_all_gives_the_same_scores(
    store: Callable[..., None], ranked: Callable[..., dict[str, dict[str, Any]]]
) -> None:
    store([M1, E1, E2, M2, E3])
    incremental = {k: v["score"] for k, v in ranked().items()}
    everything = {k: v["score"] for k, v in ranked(everything=True).items()}
    assert everything == pytest.approx(incremental, rel=1e-12)


def test_too_common_indicators_leave_the_graph(
    store: Callable[..., None], ranked: Callable[..., dict[str, dict[str, Any]]]
) -> None:
    store([M1, E1, E2, M2, E3])
    stored = ranked(max_degree=2)
    assert stored["E1"]["score"] == pytest.approx(1 / 32, rel=1e-12)
    assert stored["E3"]["score"] == 0.0 and stored["E3"]["paths"] == 0


def test_command_line(archive: Archive, store: Callable[..., None], correlate: Any) -> None:
    store([M1, E1, E2, M2, E3])
    correlate()
    app = App(Settings(mongo_url="mongodb://unused/"))
    app._archive = archive
    result = CliRunner().invoke(
        threatrank, ["--decay", "0.5", "--depth", "2", "--json"], obj=app, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["scored"] == 5 and report["seeds"] == 2 and report["with_paths"] == 3
    assert [NAMES[row["hash"]] for row in report["top"]] == ["E2", "E1", "E3"]
    assert report["top"][0]["score"] == pytest.approx(1 / 2 + 1 / 96, rel=1e-12)
    again = CliRunner().invoke(threatrank, ["--json"], obj=app, catch_exceptions=False)
    assert json.loads(again.output)["scored"] == 0  # nothing new


def test_command_line_rejects_bad_decay() -> None:
    app = App(Settings(mongo_url="mongodb://unused/"))
    result = CliRunner().invoke(threatrank, ["--decay", "2"], obj=app)
    assert result.exit_code == 2 and "decay" in result.output


def brute_force(graph: Graph, target: str, decay: float, depth: int) -> tuple[float, int]:
    """The definition, literally: enumerate every simple path from every seed to ``target``."""
    t0 = graph.events[target].timestamp
    total, count = 0.0, 0

    def weight(path: list[str]) -> float:
        value = 1.0
        for k, node in enumerate(path[:-1]):
            if k % 2:  # indicator
                value /= len(graph.indicators[node])
            else:
                days = abs(t0 - graph.events[node].timestamp) / DAY
                value *= decay**days / len(graph.event_indicators[node])
        return value

    def extend(path: list[str]) -> None:
        nonlocal total, count
        last = path[-1]
        if last == target:
            total += weight(path)
            count += 1
            return
        if (len(path) - 1) // 2 == depth:
            return
        for indicator in graph.event_indicators[last]:
            if indicator in path:
                continue
            for event in graph.indicators[indicator]:
                if event not in path:
                    extend([*path, indicator, event])

    for seed, info in graph.events.items():
        if info.malicious and seed != target:
            extend([seed])
    return total, count


@pytest.mark.parametrize("seed", range(12))
def test_fast_sums_equal_the_definition_on_random_graphs(seed: int) -> None:
    import random

    rng = random.Random(seed)
    events = {
        f"e{n}": EventNode(T0 + rng.randrange(0, 40) * DAY / 4, rng.random() < 0.35)
        for n in range(rng.randrange(4, 11))
    }
    indicators = [f"i{n}" for n in range(rng.randrange(2, 7))]
    edges = {(e, rng.choice(indicators)) for e in events for _ in range(rng.randrange(1, 4))}
    graph = Graph.from_edges(events, sorted(edges))
    decay = rng.choice([0.5, 0.9, 0.998, 1.0])
    for depth in (1, 2, 3):
        scores = score_events(graph, list(events), decay=decay, depth=depth)
        for event, score in scores.items():
            if events[event].malicious:
                assert score.seed and score.score == 1.0
                continue
            expected, paths = brute_force(graph, event, decay, depth)
            assert score.score == pytest.approx(expected, rel=1e-9, abs=1e-15)
            assert score.paths == paths


def test_the_plugin_adds_threatrank_to_the_command_line() -> None:
    from cybexp_core.cli import cli

    help_text = CliRunner().invoke(cli, ["--help"]).output
    assert "threatrank" in help_text
    result = CliRunner().invoke(cli, ["threatrank", "--help"])
    assert result.exit_code == 0
    assert "--max-degree" in result.output
