"""``cybexp-analytics plugins`` and ``check``: what is installed, and whether it all works."""

from __future__ import annotations

from typing import Any

import click

from cybexp_core.app import App, pass_app
from cybexp_core.json_output import to_json
from cybexp_core.plugins import LoadError, LoadReport

__all__ = ["check", "load_problem", "plugins"]

#: How each load stage reads in text output.
STAGE_WORDS = {
    "import": "failed at import",
    "settings": "refused its settings",
    "validation": "breaks the hook spec",
}


def load_problem(error: LoadError) -> str:
    """One line: which plugin, at which stage, and the exception."""
    reason = error.error.split(": ", 1)[-1] if ": " in error.error else error.error
    return f"{error.name}: {STAGE_WORDS.get(error.stage, error.stage)}: {reason}"


def _filter_rows(report: LoadReport) -> list[dict[str, Any]]:
    return [
        {
            "name": f.info.name,
            "id": f.info.id,
            "version": f.info.version,
            "entry_point": f.entry_point,
            "distribution": f.distribution,
            "distribution_version": f.distribution_version,
            "consumes": [{"itype": c.itype, "sub_type": c.sub_type} for c in f.info.consumes],
        }
        for f in report.filters
    ]


def _error_rows(report: LoadReport) -> list[dict[str, Any]]:
    return [
        {
            "name": e.name,
            "distribution": e.distribution,
            "stage": e.stage,
            "error": e.error,
            "traceback": e.detail,
        }
        for e in report.errors
    ]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def plugins(app: App, as_json: bool) -> None:
    """List installed filter plugins, and the ones that failed to load (exit 1 if any).

    Use -v (before or after the command) to see each failure's traceback.
    """
    report = app.filters()
    rows = _filter_rows(report)
    if as_json:
        click.echo(to_json({"filters": rows, "errors": _error_rows(report)}))
    else:
        for row in rows:
            inputs = ", ".join(f"{c['itype']}/{c['sub_type'] or '*'}" for c in row["consumes"])
            click.echo(
                f"{row['name']} {row['version']}  id={row['id']}  reads {inputs}  "
                f"({row['distribution'] or 'not installed'})"
            )
        for error in report.errors:
            click.echo(f"NOT LOADED {load_problem(error)}")
            if app.verbose:
                click.echo(error.detail.rstrip())
    if report.errors:
        click.get_current_context().exit(1)


@click.command()
@pass_app
def check(app: App) -> None:
    """Check the configuration, the database connection and the plugins; exit 1 on a problem.

    The configuration was validated before this runs (an invalid file stops any
    command); this then connects and loads every filter plugin.
    """
    settings = app.settings
    click.echo(f"configuration: {settings.source or 'no file, defaults'}: valid")
    archive = app.archive()
    where = app.settings.safe_url
    version = archive.collection.database.client.server_info().get("version", "?")
    click.echo(
        f"database: {where} ({settings.db}.{settings.coll}): reachable, server version {version}"
    )
    report = app.filters()
    click.echo(f"plugins: {len(report.filters)} loaded, {len(report.errors)} not loaded")
    for f in report.filters:
        click.echo(f"  ok {f.entry_point}: {f.info.name} {f.info.version}")
    for name in report.disabled:
        click.echo(f"  disabled {name}")
    for error in report.errors:
        click.echo(f"  NOT LOADED {load_problem(error)}")
    if not report.filters:
        click.echo("problem: no filter plugin is installed")
    if report.errors or not report.filters:
        click.get_current_context().exit(1)
    click.echo("ok")
