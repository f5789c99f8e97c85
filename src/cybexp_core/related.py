"""The walk of ``cybexp-analytics related VALUE``: the instances related to an indicator,
level by level.

The TAHOE graph has an edge from every instance to each of its descendants
(the hashes in its ``_ref``). ``related`` walks it breadth first from the
instance(s) holding VALUE:

- from an attribute or object: the events, sessions and objects whose
  ``_ref`` holds it (its *parents*);
- from an event: its attributes and objects (its ``_ref``) and the sessions
  whose ``_ref`` holds it (a Cowrie session, the ``correlation`` sessions of
  its indicators);
- from a session: its events and the instances of its identity.

Level *k* lists the instances first reached after *k* steps, so with the
default ``--level 2`` an IP address gives the events that hold it (level 1)
and their other attributes and sessions (level 2); TAHOE's ``related(level=1)``
is our level 2. Unlike TAHOE there is no silent cap of 10 events per hop:
every parent of the starting value is listed. Beyond level 1 an instance with
more than ``--max-degree`` neighbours (``method=ssh``, a saturated
correlation) is listed with its count but not walked through, and is named in
the level's ``not_expanded`` list. Rows are paged (``--page``,
``--page-size``); the counts always cover the whole answer.

Only indexed queries are used: ``_hash`` (instances by hash) and ``_ref``
(parents), ``$in`` lists in chunks of at most ``cybexp_core.reads.CHUNK`` hashes.
This module is the walk; :mod:`cybexp_core.related_values` guesses what VALUE
is, :mod:`cybexp_core.related_cli` is the command and its output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field
from pymongo.collection import Collection

from cybexp_core.documents import identity_refs
from cybexp_core.reads import chunked, find_by_hashes
from cybexp_core.related_values import FALLBACK_TYPES, start_hashes

__all__ = ["Answer", "Node", "related_query"]

#: Most hashes in one ``$in`` list on ``_ref``: SecantusDB checks every element of a
#: candidate's ``_ref`` against the list, so long lists are slow on big sessions.
REF_CHUNK = 5
#: Parent itypes (raw documents also list hashes in ``_ref`` but are not TAHOE data).
_PARENTS = ["object", "event", "session"]
_ORDER = {"event": 0, "session": 1, "object": 2, "attribute": 3}
#: Fields read for every node: small ones only (an email body can be megabytes).
_LIGHT = {
    "_id": 0,
    "_hash": 1,
    "itype": 1,
    "sub_type": 1,
    "orgid": 1,
    "timestamp": 1,
    "category": 1,
    "threatrank": 1,
    "_cref": 1,
    "start_time": 1,
    "end_time": 1,
    "saturated": 1,
}
#: Attribute sub_types tried for a VALUE given without --type.


# ---------------------------------------------------------------------------- the walk


@define
class Node:
    """One instance reached by the walk."""

    hash: str
    level: int
    doc: dict[str, Any]
    #: Neighbours found (``None`` until the node is expanded).
    degree: int | None = None
    #: Why the node was not walked through, if it was not.
    cut: str | None = None

    @property
    def itype(self) -> str:
        return str(self.doc.get("itype", "?"))

    @property
    def sub_type(self) -> str:
        return str(self.doc.get("sub_type", "?"))

    def sort_key(self) -> tuple[Any, ...]:
        ts = self.doc.get("timestamp")
        when = -float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0.0
        return (self.level, _ORDER.get(self.itype, 9), self.sub_type, when, self.hash)


@define
class Answer:
    """The whole walk: the nodes by hash, in level order."""

    value: str
    sub_type: str | None
    max_level: int
    nodes: dict[str, Node] = field(factory=dict)

    def levels(self) -> list[list[Node]]:
        rows: list[list[Node]] = [[] for _ in range(self.max_level + 1)]
        for node in self.nodes.values():
            rows[node.level].append(node)
        for level in rows:
            level.sort(key=Node.sort_key)
        return rows

    def ordered(self) -> list[Node]:
        return [node for level in self.levels()[1:] for node in level]


class _Walker:
    """Breadth-first walk over ``_ref`` edges with indexed queries only."""

    def __init__(
        self,
        collection: Collection,
        answer: Answer,
        since: float | None,
        until: float | None,
        max_degree: int,
    ) -> None:
        self.coll = collection
        self.answer = answer
        self.since = since
        self.until = until
        self.max_degree = max_degree
        #: Documents fetched by hash but left out (events outside the time range).
        self.excluded: set[str] = set()

    def in_range(self, doc: Mapping[str, Any]) -> bool:
        if doc.get("itype") != "event":
            return True
        ts = doc.get("timestamp")
        if not isinstance(ts, (int, float)):
            return self.since is None and self.until is None
        if self.since is not None and ts < self.since:
            return False
        return self.until is None or ts <= self.until

    def fetch(self, hashes: Iterable[str], with_refs: bool) -> list[dict[str, Any]]:
        projection = dict(_LIGHT)
        if with_refs:
            projection["_ref"] = 1
        wanted = [h for h in hashes if h not in self.answer.nodes and h not in self.excluded]
        docs = []
        for doc in find_by_hashes(self.coll, wanted, projection, {"itype": {"$ne": "raw"}}):
            if self.in_range(doc):
                docs.append(doc)
            else:
                self.excluded.add(doc["_hash"])
        return docs

    def add(self, docs: Iterable[dict[str, Any]], level: int) -> list[Node]:
        added = []
        for doc in docs:
            if doc["_hash"] not in self.answer.nodes:
                node = Node(doc["_hash"], level, doc)
                self.answer.nodes[node.hash] = node
                added.append(node)
        return added

    def parents(self, node: Node, limit: int | None, with_refs: bool) -> list[dict[str, Any]]:
        """Instances whose ``_ref`` holds ``node`` (at most ``limit + 1``)."""
        projection = {**_LIGHT, "_ref": 1} if with_refs else _LIGHT
        cursor = self.coll.find({"_ref": node.hash, "itype": {"$in": _PARENTS}}, projection)
        if limit is not None:
            cursor = cursor.limit(limit + 1)
        return list(cursor)

    def sessions_of(self, events: Sequence[Node]) -> dict[str, list[dict[str, Any]]]:
        """The sessions holding each event, by event hash (chunked ``$in`` on ``_ref``)."""
        found: dict[str, list[dict[str, Any]]] = {e.hash: [] for e in events}
        projection = {**_LIGHT, "_ref": 1}
        for chunk in chunked(found, REF_CHUNK):
            query = {"_ref": {"$in": chunk}, "itype": "session"}
            for doc in self.coll.find(query, projection):
                for ref in doc.get("_ref", ()):
                    if ref in found:
                        found[ref].append(doc)
        return found

    def expand(self, frontier: list[Node], level: int) -> list[Node]:
        """The nodes first reached from ``frontier`` (which is at ``level - 1``)."""
        limit = None if level == 1 else self.max_degree
        with_refs = level < self.answer.max_level
        reached: list[dict[str, Any]] = []
        to_fetch: list[str] = []
        events = [n for n in frontier if n.itype == "event"]
        sessions = self.sessions_of(events) if events else {}
        for node in frontier:
            if node.itype in ("attribute", "object"):
                found = self.parents(node, limit, with_refs)
                parents = [p for p in found if self.in_range(p)]
                node.degree = len(parents)
                if limit is not None and len(found) > limit:  # counted, not walked through
                    node.degree = len(found)
                    node.cut = f"more than {limit} parents"
                    continue
                reached.extend(parents)
            refs = [r for r in node.doc.get("_ref", ()) if r != node.hash]
            if node.itype == "event":
                held = sessions.get(node.hash, [])
                node.degree = len(refs) + len(held)
                reached.extend(held)
                to_fetch.extend(refs)
            elif node.itype == "object":
                to_fetch.extend(refs)
            elif node.itype == "session":
                own = identity_refs(node.doc)
                refs = [r for r in refs if r not in own]
                node.degree = len(refs)
                if node.doc.get("saturated") and level > 1:
                    node.cut = "saturated (too common to correlate)"
                    continue
                if limit is not None and len(refs) > limit:
                    node.cut = f"more than {limit} events"
                    continue
                to_fetch.extend(refs)
        docs = [d for d in reached if d["_hash"] not in self.answer.nodes]
        if not with_refs:
            for doc in docs:
                doc.pop("_ref", None)
        fetched = self.fetch(to_fetch, with_refs)
        return self.add([*docs, *fetched], level)


def related_query(
    collection: Collection,
    value: str,
    *,
    sub_type: str | None = None,
    level: int = 2,
    since: float | None = None,
    until: float | None = None,
    max_degree: int = 1000,
    guess_types: Sequence[str] = FALLBACK_TYPES,
) -> Answer:
    """Walk the archive from VALUE out to ``level`` steps (see the module docstring).

    ``guess_types`` are the attribute sub_types VALUE is tried as without ``sub_type``
    (the ``indicator_types`` the loaded filters declare).
    """
    answer = Answer(value, sub_type, level)
    walker = _Walker(collection, answer, since, until, max_degree)
    starts = walker.fetch(start_hashes(value, sub_type, guess_types), with_refs=level > 0)
    frontier = walker.add(starts, 0)
    for step in range(1, level + 1):
        if not frontier:
            break
        frontier = walker.expand(frontier, step)
    return answer
