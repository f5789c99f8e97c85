"""``cybexp-analytics related VALUE``: the instances related to an indicator, level by level.

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
(parents), ``$in`` lists in chunks of at most :data:`CHUNK` hashes.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import click
from attrs import define, field
from pymongo.collection import Collection

from cybexp_core.app import App, pass_app
from cybexp_core.commands import parse_time
from cybexp_core.documents import identity_refs
from cybexp_core.errors import InputError, InvalidInstanceError
from cybexp_core.indicators import INDICATOR_TYPES, normalize_host, normalize_url
from cybexp_core.json_output import to_json
from cybexp_core.models import Attribute
from cybexp_core.reads import chunked, find_by_hashes, ref_sizes

__all__ = [
    "Answer",
    "Node",
    "related",
    "related_query",
    "start_hashes",
]

#: Most hashes in one ``$in`` list on ``_ref``: SecantusDB checks every element of a
#: candidate's ``_ref`` against the list, so long lists are slow on big sessions.
REF_CHUNK = 5
#: Parent itypes (raw documents also list hashes in ``_ref`` but are not TAHOE data).
_PARENTS = ["object", "event", "session"]
_ORDER = {"event": 0, "session": 1, "object": 2, "attribute": 3}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
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
GUESS_TYPES = (
    *INDICATOR_TYPES,
    "username",
    "password",
    "filename",
    "name",
    "subject",
    "shell_command",
    "phish_target",
    "asn",
    "port",
)


# ---------------------------------------------------------------------------- helpers


def _iso(epoch: object) -> str | None:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _typed_values(text: str) -> list[object]:
    """``text`` and the scalars it may stand for (``22`` the int, ``true`` the bool)."""
    values: list[object] = [text]
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        values.append(int(stripped))
    else:
        try:
            number = float(stripped)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                values.append(number)
    if stripped.lower() in ("true", "false"):
        values.append(stripped.lower() == "true")
    return values


def _normalised(sub_type: str, text: str) -> list[object]:
    """The forms every filter stores for ``text`` as ``sub_type`` (core's normalisers)."""
    forms: list[object] = []
    try:
        if sub_type in ("ipv4", "ipv6", "domain"):
            kind, value = normalize_host(text)
            if kind == sub_type:
                forms.append(value)
        elif sub_type == "url":
            forms.append(normalize_url(text))
        elif sub_type in ("email_addr", "sha256", "sha1", "md5", "hassh"):
            forms.append(text.strip().lower())
    except InputError:
        pass
    return forms


_HEX_TYPES = {"sha256": _HEX64, "sha1": _HEX40, "md5": _HEX32, "hassh": _HEX32}


def _plausible(sub_type: str, item: object) -> bool:
    """Whether a guessed sub_type can hold ``item`` (a hash sub_type needs hex digits)."""
    pattern = _HEX_TYPES.get(sub_type)
    if pattern is not None:
        return isinstance(item, str) and pattern.match(item.strip().lower()) is not None
    if sub_type in ("asn", "port"):
        return isinstance(item, int) and not isinstance(item, bool)
    return True


def start_hashes(value: str, sub_type: str | None) -> list[str]:
    """Hashes of the instances VALUE may be: attributes of ``sub_type`` (or of likely
    sub_types), in stored and normalised forms, and VALUE itself if it is a hash."""
    hashes: dict[str, None] = {}
    if _HEX64.match(value.strip().lower()):
        hashes[value.strip().lower()] = None
    for kind in [sub_type] if sub_type else GUESS_TYPES:
        for item in [*_typed_values(value), *_normalised(kind, value)]:
            if sub_type is None and not _plausible(kind, item):
                continue
            with contextlib.suppress(InvalidInstanceError):
                hashes[Attribute(kind, item)._hash] = None  # type: ignore[arg-type]
    return list(hashes)


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
) -> Answer:
    """Walk the archive from VALUE out to ``level`` steps (see the module docstring)."""
    answer = Answer(value, sub_type, level)
    walker = _Walker(collection, answer, since, until, max_degree)
    starts = walker.fetch(start_hashes(value, sub_type), with_refs=level > 0)
    frontier = walker.add(starts, 0)
    for step in range(1, level + 1):
        if not frontier:
            break
        frontier = walker.expand(frontier, step)
    return answer


# ---------------------------------------------------------------------------- output


def _value_text(doc: Mapping[str, Any]) -> str:
    itype = doc.get("itype")
    if itype == "attribute":
        text = json.dumps(doc.get("data"), ensure_ascii=False)
        return text[1:-1] if text.startswith('"') else text
    if itype == "event":
        return f"{_iso(doc.get('timestamp'))} {doc.get('orgid')} {doc.get('category', '')}"
    if itype == "session":
        start, end = _iso(doc.get("start_time")), _iso(doc.get("end_time"))
        return f"{start or '?'} .. {end or '?'}" if start or end else ""
    return ""


def _row(node: Node, details: Mapping[str, Any] | None) -> dict[str, Any]:
    doc = node.doc
    row: dict[str, Any] = {
        "level": node.level,
        "itype": node.itype,
        "sub_type": node.sub_type,
        "hash": node.hash,
        "degree": node.degree,
    }
    if node.itype == "attribute" and details is not None:
        row["data"] = details.get("data")
    elif node.itype in ("object", "session") and details is not None:
        text = json.dumps(details.get("data"), ensure_ascii=False, default=str)
        row["data"] = text if len(text) <= 300 else text[:299] + "…"
    if node.itype == "event":
        row.update(
            orgid=doc.get("orgid"),
            timestamp=doc.get("timestamp"),
            time=_iso(doc.get("timestamp")),
            category=doc.get("category"),
        )
        rank = doc.get("threatrank")
        if isinstance(rank, Mapping):
            row["threatrank"] = rank.get("score")
    if node.itype == "session":
        row.update(start_time=_iso(doc.get("start_time")), end_time=_iso(doc.get("end_time")))
        if doc.get("saturated"):
            row["saturated"] = True
    if node.cut:
        row["not_expanded"] = node.cut
    return row


def _level_summary(level: int, nodes: list[Node]) -> dict[str, Any]:
    itypes = Counter(n.itype for n in nodes)
    sub_types = Counter(f"{n.itype}/{n.sub_type}" for n in nodes)
    orgids = Counter(str(n.doc.get("orgid")) for n in nodes if n.itype == "event")
    return {
        "level": level,
        "count": len(nodes),
        "itypes": dict(itypes.most_common()),
        "sub_types": dict(sub_types.most_common()),
        "orgids": dict(orgids.most_common()),
        "not_expanded": [
            {"hash": n.hash, "itype": n.itype, "sub_type": n.sub_type, "reason": n.cut}
            for n in nodes
            if n.cut
        ],
    }


def answer_dict(
    collection: Collection, answer: Answer, page: int, page_size: int
) -> dict[str, Any]:
    """The answer as JSON-ready data: counts per level and one page of rows."""
    levels = answer.levels()
    rows = answer.ordered()
    pages = max(1, math.ceil(len(rows) / page_size))
    chosen = rows[(page - 1) * page_size : page * page_size]
    shown = [*levels[0], *chosen]
    wanted = [n.hash for n in shown if n.itype != "event"]
    projection = {"_id": 0, "_hash": 1, "data": 1, "sub_type": 1, "_cref": 1}
    details = {d["_hash"]: d for d in find_by_hashes(collection, wanted, projection)}
    unknown = [n for n in shown if n.itype == "session" and n.degree is None]
    sizes = ref_sizes(collection, [n.hash for n in unknown])
    for node in unknown:
        if node.hash in sizes and node.hash in details:
            node.degree = sizes[node.hash] - len(identity_refs(details[node.hash]))
    return {
        "query": {"value": answer.value, "type": answer.sub_type, "level": answer.max_level},
        "start": [_row(n, details.get(n.hash)) for n in levels[0]],
        "levels": [_level_summary(k, nodes) for k, nodes in enumerate(levels) if k > 0],
        "total": len(rows),
        "page": page,
        "page_size": page_size,
        "pages": pages,
        "next_page": page + 1 if page < pages else None,
        "items": [_row(n, details.get(n.hash)) for n in chosen],
    }


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.items())


def _print_text(result: Mapping[str, Any]) -> None:
    for row in result["start"]:
        click.echo(f"{row['sub_type']} {row.get('data', '')}  ({row['itype']} {row['hash'][:12]})")
    for level in result["levels"]:
        click.echo(f"level {level['level']}: {level['count']} ({_counts(level['itypes'])})")
        click.echo(f"  {_counts(level['sub_types'])}")
        if level["orgids"]:
            click.echo(f"  events by orgid: {_counts(level['orgids'])}")
        for cut in level["not_expanded"]:
            click.echo(
                f"  not expanded: {cut['itype']} {cut['sub_type']} "
                f"{cut['hash'][:12]}: {cut['reason']}"
            )
    click.echo(
        f"page {result['page']} of {result['pages']} ({result['total']} instances)"
        + (f"; next: --page {result['next_page']}" if result["next_page"] else "")
    )
    for row in result["items"]:
        if row["itype"] == "event":
            text = f"{row['time']} {row['orgid']} {row['category']}"
            if "threatrank" in row:
                text += f" threatrank {row['threatrank']:.4g}"
        elif row["itype"] == "attribute":
            text = json.dumps(row.get("data"), ensure_ascii=False)
        elif row["itype"] == "session":
            text = f"{row['degree']} events " if row["degree"] is not None else ""
            text += str(row.get("data", ""))
        else:
            text = str(row.get("data", ""))
        if row.get("not_expanded"):
            text += f"  [not expanded: {row['not_expanded']}]"
        click.echo(
            f"  L{row['level']} {row['itype']:<9} {row['sub_type']:<16} {row['hash'][:12]}  {text}"
        )


@click.command()
@click.argument("value")
@click.option("--type", "sub_type", metavar="SUB_TYPE", help="The value's sub_type (ipv4, url...).")
@click.option(
    "--level",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Steps to walk: 1 = events holding VALUE, 2 = also their attributes and sessions.",
)
@click.option("--since", metavar="TIME", help="Only events at or after TIME (epoch or ISO).")
@click.option("--until", metavar="TIME", help="Only events at or before TIME (epoch or ISO).")
@click.option(
    "--max-degree",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Beyond level 1, do not walk through instances with more neighbours than this.",
)
@click.option(
    "--page",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which page of the related instances to print.",
)
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Related instances per page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def related(
    app: App,
    value: str,
    sub_type: str | None,
    level: int,
    since: str | None,
    until: str | None,
    max_degree: int,
    page: int,
    page_size: int,
    as_json: bool,
) -> None:
    """The instances related to VALUE (an indicator or a hash), level by level, with counts."""
    if sub_type is not None and not sub_type.isidentifier():
        raise click.BadParameter("must be an identifier", param_hint="--type")
    collection = app.archive().collection
    answer = related_query(
        collection,
        value,
        sub_type=sub_type,
        level=level,
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        max_degree=max_degree,
    )
    if not answer.nodes:
        kind = f" of type {sub_type}" if sub_type else ""
        raise click.ClickException(f"no instance{kind} holds the value {value!r}")
    result = answer_dict(collection, answer, page, page_size)
    if as_json:
        click.echo(to_json(result))
    else:
        _print_text(result)
