"""``cybexp-analytics failed list|show|retry``: documents filters could not process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from cybexp_core.app import App, pass_app
from cybexp_core.backend import Archive
from cybexp_core.json_output import to_json
from cybexp_core.plugins import LoadedFilter
from cybexp_core.worker import select_filters

__all__ = ["failed", "plural", "resolve_hash"]

#: The shortest ``_hash`` prefix accepted (``failed list`` prints 16 characters).
MIN_PREFIX = 8
_SELECT_HELP = "Only this filter, by name, id or entry-point name (repeatable)."


def plural(count: int, noun: str) -> str:
    """``1 attempt``, ``2 attempts``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def resolve_hash(archive: Archive, prefix: str) -> str:
    """The one stored ``_hash`` that starts with ``prefix`` (8 to 64 hex characters).

    :raises click.ClickException: For a prefix that is too short or not hex, that no
        document has, or that several documents have.
    """
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
        raise click.ClickException(
            f"{prefix!r} is not a _hash or a prefix of one "
            f"({MIN_PREFIX} to 64 hexadecimal characters)"
        )
    found = archive.hashes_starting_with(text, limit=6)
    if not found:
        raise click.ClickException(f"no document has a _hash starting with {text}")
    if len(found) > 1:
        count = str(len(found)) if len(found) <= 5 else "more than 5"
        shown = ", ".join(h[:24] for h in found[:5])
        raise click.ClickException(
            f"{text} is ambiguous: it starts the _hash of {count} documents ({shown}); "
            "give more characters"
        )
    return found[0]


def _time(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _chosen(app: App, selectors: Sequence[str]) -> list[LoadedFilter]:
    chosen = select_filters(app.filters().filters, selectors)
    if not chosen:
        raise click.ClickException("no installed filter matches --filter")
    return chosen


@click.group()
def failed() -> None:
    """Documents a filter failed on: list them, show one, or offer them again."""


@failed.command("list")
@click.option("--filter", "selectors", multiple=True, metavar="NAME_OR_ID", help=_SELECT_HELP)
@click.option("--error", metavar="TYPE", help="Only this error type, e.g. InputError.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_failed(app: App, selectors: Sequence[str], error: str | None, as_json: bool) -> None:
    """One line per failed document and filter."""
    rows = []
    for flt in _chosen(app, selectors):
        for failure in app.archive().failures(flt.info.id, error=error):
            record = failure.record
            rows.append(
                {
                    "hash": failure.hash,
                    "itype": failure.itype,
                    "sub_type": failure.sub_type,
                    "filter": flt.info.name,
                    "version": record.get("version"),
                    "error": record.get("error"),
                    "message": record.get("message"),
                    "attempts": record.get("attempts"),
                    "final": record.get("final_for") is not None,
                    "time": _time(record.get("time")),
                }
            )
    if as_json:
        click.echo(to_json(rows))
        return
    for row in rows:
        attempts = plural(row["attempts"] or 0, "attempt")
        state = f"failed after {attempts}" if row["final"] else f"{attempts} so far, retried"
        click.echo(
            f"{row['hash'][:16]}  {row['filter']} {row['version']}  {state}  "
            f"{row['error']}: {(row['message'] or '')[:120]}"
        )
    click.echo(plural(len(rows), "failed document"))


@failed.command()
@click.argument("prefix", metavar="HASH")
@pass_app
def show(app: App, prefix: str) -> None:
    """The document whose _hash is or starts with HASH (8+ characters), as JSON, with why
    each filter failed on it."""
    archive = app.archive()
    doc = archive.find_document(resolve_hash(archive, prefix))
    click.echo(to_json(doc))


@failed.command()
@click.option("--filter", "selectors", multiple=True, metavar="NAME_OR_ID", help=_SELECT_HELP)
@click.option("--error", metavar="TYPE", help="Only this error type, e.g. InputError.")
@click.option("--all", "everything", is_flag=True, help="Every failed document.")
@click.argument("hashes", nargs=-1, metavar="[HASH]...")
@pass_app
def retry(
    app: App, selectors: Sequence[str], error: str | None, everything: bool, hashes: Sequence[str]
) -> None:
    """Forget the failures so the next run offers the documents to the filter again.

    Each HASH is a _hash or a unique prefix of one (8+ characters). Exit 1 when
    no failed document matched.
    """
    if not (everything or error or hashes or selectors):
        raise click.UsageError("say which: HASH..., --filter, --error or --all")
    archive = app.archive()
    full = [resolve_hash(archive, prefix) for prefix in hashes] or None
    total = 0
    for flt in _chosen(app, selectors):
        total += archive.clear_failures(flt.info.id, error=error, hashes=full)
    if not total:
        raise click.ClickException("no failed document matched: nothing will be offered again")
    click.echo(f"{plural(total, 'document')} will be offered again")
