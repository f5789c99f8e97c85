"""``cybexp-analytics related VALUE``: the command and its output, text or JSON (the walk is
:mod:`cybexp_core.related`)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import click
from pymongo.collection import Collection

from cybexp_core.app import App, pass_app
from cybexp_core.commands import parse_time
from cybexp_core.documents import identity_refs
from cybexp_core.json_output import to_json
from cybexp_core.reads import find_by_hashes, ref_sizes
from cybexp_core.related import Answer, Node, related_query
from cybexp_core.related_values import FALLBACK_TYPES

__all__ = ["MAX_TEXT_CHARS", "answer_dict", "related", "shortened"]


def _iso(epoch: object) -> str | None:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- output


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


def guess_types(app: App) -> tuple[str, ...]:
    """The ``indicator_types`` the loaded filters declare (the core's own when none does)."""
    declared = [t for f in app.filters().filters for t in f.info.indicator_types]
    return tuple(dict.fromkeys(declared)) or FALLBACK_TYPES


#: Longest value printed whole in text output (``--json`` keeps every value whole).
MAX_TEXT_CHARS = 200


def shortened(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text``, or its first ``limit`` characters and its length when it is longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters; --json shows it whole)"


def _print_text(result: Mapping[str, Any]) -> None:
    for row in result["start"]:
        start = shortened(str(row.get("data", "")))
        click.echo(f"{row['sub_type']} {start}  ({row['itype']} {row['hash'][:12]})")
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
            data = row.get("data")
            text = json.dumps(data, ensure_ascii=False)
            if isinstance(data, str) and len(data) > MAX_TEXT_CHARS:
                text = '"' + shortened(data).replace("... (", '..." (', 1)
        elif row["itype"] == "session":
            text = f"{row['degree']} events " if row["degree"] is not None else ""
            text += str(row.get("data", ""))
        else:
            text = str(row.get("data", ""))
        if row["itype"] != "attribute":
            text = shortened(text)
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
        guess_types=guess_types(app),
    )
    if not answer.nodes:
        kind = f" of type {sub_type}" if sub_type else ""
        message = f"no instance{kind} holds the value {value!r}"
        if as_json:
            click.echo(to_json({"error": message, "value": value, "type": sub_type}))
            click.get_current_context().exit(1)
        raise click.ClickException(message)
    result = answer_dict(collection, answer, page, page_size)
    if as_json:
        click.echo(to_json(result))
    else:
        _print_text(result)
