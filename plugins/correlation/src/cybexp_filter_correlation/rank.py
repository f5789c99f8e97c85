"""ThreatRank's score on the event/indicator graph in memory (see :mod:`.threatrank`)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from attrs import define, field, frozen

__all__ = [
    "DEFAULT_DECAY",
    "DEFAULT_DEPTH",
    "DEFAULT_MAX_DEGREE",
    "INDICATOR_SESSION",
    "EventNode",
    "Graph",
    "Score",
    "score_events",
]

#: Sub_type of the sessions that are the graph's indicator nodes.
INDICATOR_SESSION = "correlation"
DEFAULT_DECAY = 0.998
DEFAULT_DEPTH = 2
DEFAULT_MAX_DEGREE = 200
DAY = 86400.0


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
