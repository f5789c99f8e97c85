"""Reading ThreatRank's graph from the archive: events and their correlation sessions, by hash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from attrs import define, field
from pymongo.collection import Collection

from cybexp_core import InvalidInstanceError, Session
from cybexp_core.documents import flatten, identity_refs, rebuild_children
from cybexp_core.reads import find_by_hashes
from cybexp_filter_correlation.rank import DEFAULT_MAX_DEGREE, INDICATOR_SESSION, EventNode, Graph

__all__ = ["Loader", "indicator_sessions", "load_graph"]


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
class Loader:
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
    loader = Loader(collection, max_degree, sub_type)
    loader.load(list(start), radius)
    return loader.graph
