"""``cybexp-analytics failed list|show|retry``: documents filters could not process."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from cybexp_core.app import App, pass_app
from cybexp_core.plugins import LoadedFilter
from cybexp_core.worker import select_filters

__all__ = ["failed"]


def _chosen(app: App, selectors: Sequence[str]) -> list[LoadedFilter]:
    chosen = select_filters(app.filters().filters, selectors)
    if not chosen:
        raise click.ClickException("no installed filter matches --filter")
    return chosen


@click.group()
def failed() -> None:
    """Documents a filter failed on: list them, show one, or offer them again."""


@failed.command("list")
@click.option("--filter", "selectors", multiple=True, metavar="NAME_OR_ID")
@click.option("--error", help="Only this error type, e.g. InputError.")
@click.option("--json", "as_json", is_flag=True)
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
                    "time": str(record.get("time")),
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = f"failed after {row['attempts']} attempts"
        click.echo(
            f"{row['hash'][:16]}  {row['filter']} {row['version']}  {state}  "
            f"{row['error']}: {row['message'][:120]}"
        )
    click.echo(f"{len(rows)} failed documents")


@failed.command()
@click.argument("hash_")
@pass_app
def show(app: App, hash_: str) -> None:
    """The document with this _hash and why each filter failed on it."""
    doc = app.archive().find_document(hash_)
    if doc is None:
        raise click.ClickException(f"no document with _hash {hash_}")
    click.echo(json.dumps(doc, indent=2, default=str))


@failed.command()
@click.option("--filter", "selectors", multiple=True, metavar="NAME_OR_ID")
@click.option("--error", help="Only this error type.")
@click.option("--all", "everything", is_flag=True, help="Every failed document.")
@click.argument("hashes", nargs=-1)
@pass_app
def retry(
    app: App, selectors: Sequence[str], error: str | None, everything: bool, hashes: Sequence[str]
) -> None:
    """Forget the failures so the next run offers the documents to the filter again."""
    if not (everything or error or hashes or selectors):
        raise click.UsageError("say which: HASH..., --filter, --error or --all")
    total = 0
    for flt in _chosen(app, selectors):
        total += app.archive().clear_failures(
            flt.info.id, error=error, hashes=list(hashes) if hashes else None
        )
    click.echo(f"{total} documents will be offered again")
