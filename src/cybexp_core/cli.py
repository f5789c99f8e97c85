"""The ``cybexp-analytics`` command line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from pymongo.errors import ConnectionFailure, PyMongoError

from cybexp_core.app import App, fail, pass_app
from cybexp_core.backend import Archive
from cybexp_core.builtin_commands import add_commands
from cybexp_core.census import Pair, by_itype
from cybexp_core.config import load_settings
from cybexp_core.errors import CybexpError
from cybexp_core.global_options import GlobalOptionsGroup
from cybexp_core.heartbeat import WORKERS_COLLECTION, describe_workers, worker_rows
from cybexp_core.ingest_command import IngestOptions, ingest_paths
from cybexp_core.json_output import to_json
from cybexp_core.logs import level_for, setup_logging
from cybexp_core.mongo_url import connection_reason
from cybexp_core.unread import unread_sub_types

log = logging.getLogger("cybexp_core")


class _Group(GlobalOptionsGroup):
    """Turns database and configuration errors into one readable message (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConnectionFailure as exc:
            app = ctx.obj
            where = app.settings.safe_url if isinstance(app, App) else "the configured URL"
            raise fail(f"cannot reach MongoDB at {where}: {connection_reason(exc)}") from exc
        except PyMongoError as exc:
            raise fail(f"database error: {str(exc)[:500]}") from exc
        except CybexpError as exc:
            raise fail(str(exc)) from exc


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="CYBEXP_CONFIG",
    show_envvar=True,
    show_default="./config.json when it exists",
    help="config.json in the original CYBEX-P format.",
)
@click.option(
    "--mongo-url",
    envvar="CYBEXP_MONGO_URL",
    show_envvar=True,
    show_default="the config file's, else the embedded server",
    help="MongoDB URL (visible in ps: prefer --mongo-url-file).",
)
@click.option(
    "--mongo-url-file",
    type=click.Path(dir_okay=False),
    envvar="CYBEXP_MONGO_URL_FILE",
    show_envvar=True,
    help="File holding the MongoDB URL, which keeps it out of the command line.",
)
@click.option(
    "--db",
    envvar="CYBEXP_DB",
    show_envvar=True,
    show_default="the config file's, else tahoe_db",
    help="Database name.",
)
@click.option(
    "--coll",
    envvar="CYBEXP_COLL",
    show_envvar=True,
    show_default="the config file's, else instance",
    help="Collection name.",
)
@click.option(
    "-v", "--verbose", count=True, show_default=False, help="More log output (-vv for debug)."
)
@click.version_option(package_name="cybexp-core")
@click.pass_context
def cli(
    ctx: click.Context,
    config: str | None,
    mongo_url: str | None,
    mongo_url_file: str | None,
    db: str | None,
    coll: str | None,
    verbose: int,
) -> None:
    """CYBEX-P analytics: run filter plugins over raw threat data in a TAHOE archive.

    With no MongoDB configured (no --mongo-url, --mongo-url-file, their
    environment variables or config.json), an embedded local server is started
    for the command. These options may also follow the command name.
    """
    mongo_url, mongo_url_file = _url_options(ctx, mongo_url, mongo_url_file)
    setup_logging(level_for(verbose))
    try:
        settings = load_settings(
            config, mongo_url=mongo_url, mongo_url_file=mongo_url_file, db=db, coll=coll
        )
    except CybexpError as exc:
        raise fail(str(exc)) from exc
    app = App(settings, verbose=verbose)
    ctx.obj = app
    ctx.call_on_close(app.stack.close)


def _url_options(
    ctx: click.Context, url: str | None, url_file: str | None
) -> tuple[str | None, str | None]:
    """The URL options, where one given on the command line beats the other's variable."""
    if url and url_file:
        from_env = click.core.ParameterSource.ENVIRONMENT
        url_env = ctx.get_parameter_source("mongo_url") is from_env
        file_env = ctx.get_parameter_source("mongo_url_file") is from_env
        if url_env and file_env:
            raise fail("set CYBEXP_MONGO_URL or CYBEXP_MONGO_URL_FILE, not both")
        if url_env:
            url = None
        elif file_env:
            url_file = None
    return url, url_file


# ---------------------------------------------------------------------------- ingest


@cli.command()
@click.option("--sub-type", required=True, help="Raw sub_type, e.g. cowrie, email.")
@click.option("--orgid", default="local", show_default=True, help="Organisation id.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Time zone of the times in the data (an IANA name such as Europe/Paris), stored "
    "as the raw documents' timezone for the filters that read local times.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "json", "file"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one raw per line; json: one raw per JSON document or array element "
    "(pretty-printed); file: one raw per file (big feed files in parts, an mbox per message).",
)
@click.option(
    "--timestamp",
    metavar="EPOCH|mtime",
    help="With --format file: when the file was fetched, stored as data.timestamp "
    "(for feeds whose lines carry no time); 'mtime' uses the file's. Without it, such "
    "feeds take the time the document was stored.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Store even when the input looks like another --format or its first documents "
    "all fail with the filter that reads them.",
)
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
)
@pass_app
def ingest(
    app: App,
    sub_type: str,
    orgid: str,
    timezone: str,
    fmt: str,
    timestamp: str | None,
    force: bool,
    paths: Sequence[Path],
) -> None:
    """Store files (gzip, bzip2 and xz too; - for standard input) as raw documents.

    Bad lines are reported; good ones are kept. Warns when no loaded filter reads
    the sub_type.
    """
    if not sub_type.isidentifier():
        raise click.BadParameter("must be an identifier", param_hint="--sub-type")
    archive = app.archive()
    archive.ensure_indexes()
    options = IngestOptions(sub_type, orgid, timezone, fmt, timestamp, force)
    code = ingest_paths(archive, app.filters().filters, paths, options)
    if code:
        sys.exit(code)


# ---------------------------------------------------------------------------- status


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--count-all",
    is_flag=True,
    help="Count every instance now (slow on a big archive) instead of reading the census.",
)
@click.option(
    "--recount",
    is_flag=True,
    help="Rebuild the census of instance counts from a full count (after deletions).",
)
@pass_app
def status(app: App, as_json: bool, count_all: bool, recount: bool) -> None:
    """Pending, processed and failed counts per filter; instance counts per itype; raw
    documents of sub_types no loaded filter reads.

    Instance counts come from a census kept in cybexp_state plus the documents stored since
    it last counted (see docs/operators.md, "Instance counts")."""
    if count_all and recount:
        raise click.UsageError("--count-all and --recount do not go together")
    report = app.filters()
    archive = app.archive()
    rows = []
    for f in report.filters:
        progress = archive.progress(f.info.id, f.info.consumes)
        rows.append(
            {
                "name": f.info.name,
                "id": f.info.id,
                "version": f.info.version,
                "pending": progress.pending,
                # Documents done: made into instances, or not for the filter.
                "processed": progress.processed + progress.skipped,
                "failed": progress.failed,
                "lag_seconds": round(progress.lag_seconds, 1),
            }
        )
    source = "count-all" if count_all else "recount" if recount else "census"
    counts = None if count_all else _census_counts(archive, recount)
    instances = archive.instance_counts() if counts is None else by_itype(counts)
    unread = unread_sub_types(archive, report.filters, counts)
    workers = worker_rows(archive.collection.database[WORKERS_COLLECTION])
    if as_json:
        body = {
            "filters": rows,
            "instances": instances,
            "instances_from": source,
            "unread": unread,
            "workers": workers,
        }
        click.echo(to_json(body))
        return
    for row in rows:
        click.echo(
            f"{row['name']:<12} pending {row['pending']:>8}  processed "
            f"{row['processed']:>8}  failed {row['failed']:>6}"
        )
    click.echo("instances: " + ", ".join(f"{k} {v}" for k, v in instances.items()))
    if unread:
        listed = ", ".join(f"{sub_type} {count}" for sub_type, count in unread.items())
        click.echo(f"raw documents no loaded filter reads: {listed}")
    click.echo("\n".join(describe_workers(workers)))


def _census_counts(archive: Archive, recount: bool) -> dict[Pair, int]:
    """Documents per (itype, sub_type) from the census (rebuilt with ``recount``)."""
    if recount:
        return archive.census.rebuild()
    if not archive.census.ready():
        click.echo("counting every instance once, to start the census", err=True)
    return archive.census.counts()


add_commands(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cybexp-analytics")
