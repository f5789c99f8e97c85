"""ThreatRank: a malicious score per event from its paths to known malicious events.

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

import bisect
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import click
from attrs import define, field, frozen
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.collection import Collection

from cybexp_core.app import App, pass_app
from cybexp_core.errors import InvalidInstanceError
from cybexp_core.models import Session, flatten
from cybexp_core.related import (
    chunked,
    find_by_hashes,
    identity_refs,
    parse_time,
    rebuild_children,
)

__all__ = [
    "DEFAULT_DECAY",
    "DEFAULT_DEPTH",
    "DEFAULT_MAX_DEGREE",
    "INDICATOR_SESSION",
    "EventNode",
    "Graph",
    "Score",
    "load_graph",
    "score_events",
    "threatrank",
    "update_scores",
]

#: Sub_type of the sessions that are the graph's indicator nodes.
INDICATOR_SESSION = "correlation"
DEFAULT_DECAY = 0.998
DEFAULT_DEPTH = 2
DEFAULT_MAX_DEGREE = 200
DAY = 86400.0
#: New events whose neighbourhood is loaded and rescored at once.
BATCH = 200
#: Events kept in memory by one update before the loaded graph is dropped and re-read.
MAX_GRAPH_EVENTS = 1_000_000


# ---------------------------------------------------------------------------- the algorithm


@frozen
class EventNode:
    """What the score needs of an event: its time and whether it is a seed."""

    timestamp: float
    malicious: bool


@frozen
class Score:
    """An event's ThreatRank: the sum over ``paths`` paths, or 1 for a seed."""

    score: float
    paths: int
    seed: bool


@define
class Graph:
    """The event/indicator graph in memory (indicator ids are session hashes)."""

    events: dict[str, EventNode] = field(factory=dict)
    #: Indicator -> all its events (the full list: its length is the degree).
    indicators: dict[str, tuple[str, ...]] = field(factory=dict)
    #: Event -> its indicators in the graph (the full list: its length is the degree).
    event_indicators: dict[str, tuple[str, ...]] = field(factory=dict)

    @classmethod
    def from_edges(cls, events: Mapping[str, EventNode], edges: Iterable[tuple[str, str]]) -> Graph:
        """A graph from ``events`` and ``(event, indicator)`` links."""
        graph = cls(events=dict(events))
        members: dict[str, dict[str, None]] = {}
        held: dict[str, dict[str, None]] = {e: {} for e in events}
        for event, indicator in edges:
            members.setdefault(indicator, {})[event] = None
            held.setdefault(event, {})[indicator] = None
        graph.indicators = {k: tuple(v) for k, v in members.items()}
        graph.event_indicators = {k: tuple(v) for k, v in held.items()}
        return graph

    def neighbourhood(self, start: Iterable[str], radius: int) -> set[str]:
        """Events reachable from ``start`` through at most ``radius`` indicators."""
        seen = {e for e in start if e in self.events}
        frontier = set(seen)
        for _ in range(radius):
            reached = {
                other
                for event in frontier
                for indicator in self.event_indicators.get(event, ())
                for other in self.indicators.get(indicator, ())
                if other in self.events and other not in seen
            }
            seen |= reached
            frontier = reached
        return seen


@define
class _Seeds:
    """The seed members of one indicator, for the last hop of a path in O(log n).

    ``total(t0)`` is ``sum(decay ** |t0 - t_s| / L(s))`` over the seeds ``s``,
    from a prefix sum over the seeds before ``t0`` and a suffix sum over those
    after it (every exponent is >= 0, so nothing overflows).
    """

    decay: float
    days: list[float]
    before: list[float]
    after: list[float]
    members: frozenset[str]

    @classmethod
    def of(cls, graph: Graph, indicator: str, decay: float) -> _Seeds | None:
        seeds = []
        for event in graph.indicators.get(indicator, ()):
            info = graph.events.get(event)
            degree = len(graph.event_indicators.get(event, ()))
            if info is not None and info.malicious and degree:
                seeds.append((info.timestamp / DAY, 1.0 / degree, event))
        if not seeds:
            return None
        seeds.sort()
        days = [d for d, _, _ in seeds]
        before = []
        running = 0.0
        for k, (day, weight, _) in enumerate(seeds):
            running = (running * decay ** (day - days[k - 1]) if k else 0.0) + weight
            before.append(running)
        after = [0.0] * len(seeds)
        running = 0.0
        for k in range(len(seeds) - 1, -1, -1):
            day, weight, _ = seeds[k]
            gap = days[k + 1] - day if k + 1 < len(seeds) else 0.0
            running = running * decay**gap + weight
            after[k] = running
        return cls(decay, days, before, after, frozenset(e for _, _, e in seeds))

    def total(self, day: float) -> float:
        k = bisect.bisect_right(self.days, day)
        value = 0.0
        if k:
            value += self.decay ** (day - self.days[k - 1]) * self.before[k - 1]
        if k < len(self.days):
            value += self.decay ** (self.days[k] - day) * self.after[k]
        return value


def _score(
    graph: Graph, target: str, decay: float, depth: int, seeds: dict[str, _Seeds | None]
) -> Score:
    node = graph.events[target]
    if node.malicious:
        return Score(1.0, 0, True)
    t0 = node.timestamp
    total = 0.0
    paths = 0
    on_path = [target]
    used: set[str] = set()

    def weight_of(event: str) -> float:
        info = graph.events[event]
        return decay ** (abs(t0 - info.timestamp) / DAY) / len(graph.event_indicators[event])

    def last_hop(indicator: str, through: float) -> None:
        """Every path that ends at a seed of ``indicator``, at once."""
        nonlocal total, paths
        if indicator not in seeds:
            seeds[indicator] = _Seeds.of(graph, indicator, decay)
        found = seeds[indicator]
        if found is None:
            return
        value = found.total(t0 / DAY)
        count = len(found.members)
        for event in on_path:  # a path visits no event twice
            if event in found.members:
                value -= weight_of(event)
                count -= 1
        if count > 0:
            total += through * max(value, 0.0)
            paths += count

    def walk(event: str, weight: float, links: int) -> None:
        nonlocal total, paths
        for indicator in graph.event_indicators.get(event, ()):
            members = graph.indicators.get(indicator)
            if indicator in used or not members:
                continue
            through = weight / len(members)
            if links + 1 == depth:
                last_hop(indicator, through)
                continue
            used.add(indicator)
            for other in members:
                info = graph.events.get(other)
                if other in on_path or info is None or not graph.event_indicators.get(other):
                    continue
                value = through * weight_of(other)
                if info.malicious:
                    total += value
                    paths += 1
                on_path.append(other)
                walk(other, value, links + 1)
                on_path.pop()
            used.discard(indicator)

    walk(target, 1.0, 0)
    return Score(total, paths, False)


def score_events(
    graph: Graph,
    targets: Iterable[str],
    *,
    decay: float = DEFAULT_DECAY,
    depth: int = DEFAULT_DEPTH,
) -> dict[str, Score]:
    """ThreatRank of each of ``targets`` (see the module docstring for the formula).

    ``graph`` must hold every event and indicator within ``depth`` indicators
    of each target, with their full degrees.
    """
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay!r}")
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth!r}")
    seeds: dict[str, _Seeds | None] = {}
    return {t: _score(graph, t, decay, depth, seeds) for t in targets if t in graph.events}


# ---------------------------------------------------------------------------- loading


def indicator_sessions(data: object, sub_type: str = INDICATOR_SESSION) -> tuple[str, ...]:
    """Hashes of the sessions that would hold an event with ``data``, one per descendant.

    A correlation session's hash depends only on its indicator, so an event's
    correlations are found by hash (unique index) instead of a ``_ref`` search.
    """
    if not isinstance(data, Mapping):
        return ()
    try:
        children = rebuild_children(data)
    except InvalidInstanceError:
        return ()
    hashes = {Session(sub_type, [child])._hash: None for child in flatten(children)}
    return tuple(hashes)


@define
class _Loader:
    """Reads the graph from the archive; every event and session is read at most once."""

    collection: Collection
    max_degree: int
    sub_type: str
    graph: Graph = field(factory=Graph)
    #: Sessions that may hold each event read (from its data), until it is linked.
    candidates: dict[str, tuple[str, ...]] = field(factory=dict)
    #: Members of each indicator, as a set.
    members: dict[str, frozenset[str]] = field(factory=dict)
    #: Session hashes read that are left out (saturated, too many events) or absent.
    unused: set[str] = field(factory=set)
    #: Hashes listed by a session that are no event document.
    missing: set[str] = field(factory=set)

    def fetch(self, hashes: Iterable[str]) -> None:
        """Read the events among ``hashes`` that are not in the graph yet."""
        wanted = [h for h in hashes if h not in self.graph.events and h not in self.missing]
        projection = {"_id": 0, "_hash": 1, "timestamp": 1, "category": 1, "data": 1}
        for doc in find_by_hashes(self.collection, wanted, projection, {"itype": "event"}):
            ts = doc.get("timestamp")
            if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                malicious = doc.get("category") == "malicious"
                self.graph.events[doc["_hash"]] = EventNode(float(ts), malicious)
                self.candidates[doc["_hash"]] = indicator_sessions(doc.get("data"), self.sub_type)
        self.missing.update(h for h in wanted if h not in self.graph.events)

    def link(self, events: Iterable[str]) -> None:
        """Read the indicators (correlation sessions) of the events not linked yet."""
        todo = [e for e in events if e in self.candidates]
        if not todo:
            return
        slice_size = self.max_degree + 64
        projection = {
            "_id": 0,
            "_hash": 1,
            "sub_type": 1,
            "data": 1,
            "_cref": 1,
            "saturated": 1,
            "_ref": {"$slice": slice_size},
        }
        known = self.graph.indicators
        wanted = {
            s for e in todo for s in self.candidates[e] if s not in known and s not in self.unused
        }
        query = {"itype": "session", "sub_type": self.sub_type}
        for doc in find_by_hashes(self.collection, wanted, projection, query):
            refs = list(doc.get("_ref") or ())
            own = identity_refs(doc)
            members = tuple(dict.fromkeys(r for r in refs if r not in own))
            too_many = len(members) > self.max_degree or len(refs) >= slice_size
            if doc.get("saturated") or too_many:
                continue
            known[doc["_hash"]] = members
            self.members[doc["_hash"]] = frozenset(members)
        self.unused.update(s for s in wanted if s not in known)
        for event in todo:
            held = [s for s in self.candidates.pop(event) if event in self.members.get(s, ())]
            self.graph.event_indicators[event] = tuple(sorted(held))

    def load(self, start: Iterable[str], radius: int) -> None:
        """Make the graph hold everything within ``radius`` indicators of ``start``."""
        self.fetch(start)
        frontier = {e for e in start if e in self.graph.events}
        seen = set(frontier)
        for _ in range(radius):
            self.link(frontier)
            reached = {
                other
                for event in frontier
                for indicator in self.graph.event_indicators.get(event, ())
                for other in self.graph.indicators[indicator]
                if other not in seen
            }
            self.fetch(reached)
            frontier = {e for e in reached if e in self.graph.events}
            seen |= frontier
            if not frontier:
                break
        self.link(frontier)  # the degrees of the outermost events


def load_graph(
    collection: Collection,
    start: Iterable[str],
    radius: int,
    *,
    max_degree: int = DEFAULT_MAX_DEGREE,
    sub_type: str = INDICATOR_SESSION,
) -> Graph:
    """The graph within ``radius`` indicators of the events ``start``, with full degrees."""
    loader = _Loader(collection, max_degree, sub_type)
    loader.load(list(start), radius)
    return loader.graph


# ---------------------------------------------------------------------------- updating


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
    loader = _Loader(collection, max_degree, INDICATOR_SESSION)
    for batch in chunked(new, BATCH):
        if len(loader.graph.events) > MAX_GRAPH_EVENTS:  # bound the memory of a long run
            loader = _Loader(collection, max_degree, INDICATOR_SESSION)
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
@pass_app
def threatrank(
    app: App,
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
        app.archive().collection,
        since=parse_time(since),
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
