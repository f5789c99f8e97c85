"""ThreatRank, the ``threatrank`` command: a malicious score per event from its paths to
known malicious events.

The graph
    Bipartite: event nodes and indicator nodes. The indicator nodes are the
    ``correlation`` sessions of the correlation filter (one per shared
    ipv4, url, sha256, credential...; its ``_ref`` lists the events holding
    it), so the filter's stop-list and frequency cut-off shape the graph. An
    event and an indicator are linked when the session lists the event. A
    session that is ``saturated`` or lists more than ``max_degree`` events is
    left out (too common to mean anything, and too costly to walk).

The score (TAHOE specification, ``2_threatrank.tex``, with its slips fixed)
    The *seeds* are the events of category ``malicious``. For a path
    ``w = (w_1, ..., w_n)`` from a seed ``w_1`` to the scored event
    ``w_n = e`` (events and indicators alternating, no node twice, at most
    ``depth`` indicators)::

        TR_w = prod_{k=1}^{n-1}  decay ** d(w_k) / L(w_k)

    where ``L(v)`` is the degree of ``v`` in the graph and ``d(v)`` is, for an
    event, ``|t(e) - t(v)|`` in days, 0 for an indicator. The score is
    ``ThreatRank(e) = sum_w TR_w`` over all such paths; a seed scores 1.

    Differences from the specification and the original code:

    - Sign: the specification starts from ``TR[1] = -1`` so malicious scores are
      negative; we store ``-TR`` (higher = more malicious, a seed = 1).
    - The recurrence ``TR[k] = decay^d(w_{k-1}) * TR[k-1] / L(w_{k-1})``
      divides by the degree of every node *before* the scored event; the
      specification's pseudocode (``threatRankPath``) also divided by the
      degree of the scored event itself. We follow the recurrence.
    - The pseudocode's ``getRelated`` appended ``node`` instead of the related
      event; we collect the related events.
    - Age: the original's ``daysold()`` measured from the local clock (skewed
      by the UTC offset, and changing every day). We measure the distance in
      days between the evidence and the scored event, both UTC epochs, so a
      score changes only when evidence changes.
    - The original's depth cut-off returned ``[[]]`` and each empty path added
      -1; its duplicate-path check compared a list of paths with a path; its
      decay was hard-coded and its result never stored. Here paths are simple
      by construction, ``decay`` (1e-5..1, default 0.998: half weight after a
      year) and ``depth`` are parameters, and scores are stored on the events.

Storage
    ``threatrank: {score, paths, seed, decay, depth, computed_at}`` on each
    event document. An event without the field has not been scored yet.

Updates
    A new event changes the scores of the events within ``depth`` indicators
    of it (new paths through it, new degrees of its indicators), and only
    those. :func:`update_scores` rescores exactly that neighbourhood of the
    events not scored yet (or stored since a time). The graph around them is
    read by ``_hash`` only (``$in`` lists of at most 100): a correlation
    session's hash follows from its indicator, so an event's candidate
    sessions are computed from its ``data`` and read by hash, each at most once
    per update, instead of searching ``_ref`` (slow on big sessions).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import click
from attrs import define, field
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.collection import Collection

from cybexp_core.commands import Archive, parse_time, pass_archive
from cybexp_core.reads import chunked
from cybexp_filter_correlation.graph import Loader
from cybexp_filter_correlation.rank import (
    DEFAULT_DECAY,
    DEFAULT_DEPTH,
    DEFAULT_MAX_DEGREE,
    INDICATOR_SESSION,
    score_events,
)

__all__ = ["Report", "threatrank", "update_scores"]

#: New events whose neighbourhood is loaded and rescored at once.
BATCH = 200
#: Events kept in memory by one update before the loaded graph is dropped and re-read.
MAX_GRAPH_EVENTS = 1_000_000


@define
class Report:
    """What one ThreatRank update did."""

    scored: int = 0
    seeds: int = 0
    with_paths: int = 0
    new: int = 0
    seconds: float = 0.0
    top: list[dict[str, Any]] = field(factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "seeds": self.seeds,
            "with_paths": self.with_paths,
            "new_events": self.new,
            "seconds": round(self.seconds, 3),
            "top": self.top,
        }


def _new_events(collection: Collection, since: float | None, everything: bool) -> Iterator[str]:
    query: dict[str, Any] = {"itype": "event"}
    if since is not None:
        query["_id"] = {"$gte": ObjectId.from_datetime(datetime.fromtimestamp(since, timezone.utc))}
    elif not everything:
        query["threatrank"] = {"$exists": False}
    with collection.find(query, {"_id": 0, "_hash": 1}) as cursor:
        for doc in cursor:
            yield doc["_hash"]


def update_scores(
    collection: Collection,
    *,
    since: float | None = None,
    everything: bool = False,
    decay: float = DEFAULT_DECAY,
    depth: int = DEFAULT_DEPTH,
    max_degree: int = DEFAULT_MAX_DEGREE,
    top: int = 10,
) -> Report:
    """Score the events not scored yet (or stored since ``since``, or all) and every event
    within ``depth`` indicators of them; store ``threatrank`` on each."""
    started = time.monotonic()
    report = Report()
    new = list(dict.fromkeys(_new_events(collection, since, everything)))
    report.new = len(new)
    done: set[str] = set()
    best: list[tuple[float, str]] = []
    loader = Loader(collection, max_degree, INDICATOR_SESSION)
    for batch in chunked(new, BATCH):
        if len(loader.graph.events) > MAX_GRAPH_EVENTS:  # bound the memory of a long run
            loader = Loader(collection, max_degree, INDICATOR_SESSION)
        loader.load(batch, depth if everything else 2 * depth)
        graph = loader.graph
        targets = set(batch) if everything else graph.neighbourhood(batch, depth)
        targets -= done
        scores = score_events(graph, sorted(targets), decay=decay, depth=depth)
        done |= set(scores)
        now = datetime.now(timezone.utc)
        ops = [
            UpdateOne(
                {"_hash": event},
                {
                    "$set": {
                        "threatrank": {
                            "score": s.score,
                            "paths": s.paths,
                            "seed": s.seed,
                            "decay": decay,
                            "depth": depth,
                            "computed_at": now,
                        }
                    }
                },
            )
            for event, s in scores.items()
        ]
        for part in range(0, len(ops), 1000):
            collection.bulk_write(ops[part : part + 1000], ordered=False)
        for event, s in scores.items():
            report.scored += 1
            report.seeds += s.seed
            if s.paths:
                report.with_paths += 1
                best.append((s.score, event))
        best = sorted(best, reverse=True)[:top]
    report.top = [{"hash": h, "score": score} for score, h in best]
    report.seconds = time.monotonic() - started
    return report


@click.command()
@click.option(
    "--since",
    metavar="TIME",
    help="Rescore around the events stored since TIME (epoch or ISO) instead of around "
    "the events never scored.",
)
@click.option("--all", "everything", is_flag=True, help="Rescore every event.")
@click.option(
    "--decay",
    type=click.FloatRange(1e-5, 1.0),
    default=DEFAULT_DECAY,
    show_default=True,
    help="Weight kept per day between evidence and event (0.998: half after a year).",
)
@click.option(
    "--depth",
    type=click.IntRange(1, 6),
    default=DEFAULT_DEPTH,
    show_default=True,
    help="Most shared indicators on a path from a known malicious event.",
)
@click.option(
    "--max-degree",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_DEGREE,
    show_default=True,
    help="Indicators shared by more events than this are left out of the graph.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_archive
def threatrank(
    archive: Archive,
    since: str | None,
    everything: bool,
    decay: float,
    depth: int,
    max_degree: int,
    as_json: bool,
) -> None:
    """Score events by their paths to known malicious events (ThreatRank); store the scores.

    Run it after ``run --once``: the paths go through the sessions of the
    correlation filter.
    """
    if everything and since:
        raise click.UsageError("--all and --since exclude each other")
    report = update_scores(
        archive.collection,
        since=parse_time(since, "--since"),
        everything=everything,
        decay=decay,
        depth=depth,
        max_degree=max_degree,
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"scored {report.scored} events around {report.new} new ones in {report.seconds:.1f}s: "
        f"{report.seeds} known malicious, {report.with_paths} with a path to one"
    )
    for row in report.top:
        click.echo(f"  {row['score']:.6g}  {row['hash']}")
