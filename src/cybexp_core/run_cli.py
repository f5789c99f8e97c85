"""``cybexp-analytics run``: drain once, or run as a daemon with metrics, on-time stops and
honest exit codes.

Exit status: 0 when the work asked for was done (for the daemon: stopped by a signal
on time); 130 / 143 when SIGINT / SIGTERM interrupted ``run --once``; 124 when the stop
timeout passed with work in hand; 1 when a worker process died; 3 (``LEASED_ELSEWHERE``)
when ``run --once`` could not finish because live workers elsewhere hold leased work.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from attrs import evolve

from cybexp_core.app import App, fail, pass_app
from cybexp_core.backend import Archive
from cybexp_core.errors import CybexpError
from cybexp_core.json_output import to_json
from cybexp_core.logs import LOG_FORMATS, setup_logging
from cybexp_core.plugins_cli import load_problem
from cybexp_core.stopping import StopControl, exit_code_for
from cybexp_core.worker import Runner, RunSummary, select_filters

if TYPE_CHECKING:  # the daemon and the metrics server load on use: not at every command's start
    from cybexp_core.metrics import Metrics

__all__ = ["run"]

#: Exit status of ``run --once`` when live workers elsewhere still hold leased work.
LEASED_ELSEWHERE = 3

log = logging.getLogger(__name__)


def print_summary(summary: RunSummary) -> None:
    """The human summary of a run: documents, time, rate, then one line per filter."""
    total = summary.total()
    rate = total.handled / summary.seconds if summary.seconds else 0.0
    click.echo(f"{total.handled} documents in {summary.seconds:.1f}s ({rate:.0f}/s)")
    for name, stats in summary.filters.items():
        click.echo(
            f"  {name}: processed {stats.processed}, failed {stats.failed}, "
            f"skipped {stats.skipped}, problems {stats.problems}, "
            f"instances {stats.instances}, inserted {stats.inserted}"
        )


@click.command()
@click.option(
    "--once", is_flag=True, help="Drain all pending work (chained filters too), then exit."
)
@click.option(
    "--filter",
    "selectors",
    multiple=True,
    metavar="NAME_OR_ID",
    help="Run only this filter (repeatable).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    show_default="the config file's runner.batch_size, else 1000",
    help="Documents per batch.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes on this machine.",
)
@click.option(
    "--stop-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a stop by SIGTERM/SIGINT may take before the process exits anyway.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    envvar="CYBEXP_LOG_FORMAT",
    show_envvar=True,
    help="text for people, json (one object a line) for log shippers.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus /metrics, /healthz and /readyz on this port (with --workers N, "
    "worker k on PORT+k).",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address of --metrics-port."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def run(
    app: App,
    once: bool,
    selectors: Sequence[str],
    batch_size: int | None,
    workers: int,
    stop_timeout: float,
    log_format: str,
    metrics_port: int | None,
    metrics_host: str,
    as_json: bool,
) -> None:
    """Run the filters: forever (until SIGINT/SIGTERM), or with --once until no work is left.

    The daemon waits for the database when it is down at start; --once fails at once.
    """
    setup_logging(logging.getLogger().level, log_format, with_process=workers > 1)
    if batch_size:
        app.settings = evolve(app.settings, batch_size=batch_size)
    report = app.filters()
    refused = [error for error in report.errors if error.stage == "settings"]
    if refused:
        where = app.settings.source or "the configuration"
        raise fail(
            f"{where}: no work started: "
            + "; ".join(f"filters.{load_problem(error)}" for error in refused)
        )
    for error in report.errors:
        click.echo(f"warning: filter plugin {load_problem(error)}", err=True)
    filters = select_filters(report.filters, selectors)
    if not filters:
        raise click.ClickException("no filter to run (none installed, or none matches --filter)")
    settings = app.resolved_settings()
    code = 0
    try:
        if workers > 1:
            from cybexp_core.pool import run_pool

            if once:
                app.archive().ensure_indexes()
            pooled = run_pool(
                settings,
                [f.entry_point for f in filters],
                workers,
                once=once,
                stop_timeout=stop_timeout,
                log_format=log_format,
                metrics=None if metrics_port is None else (metrics_host, metrics_port),
            )
            summary = pooled.summary
            if pooled.deaths:
                log.error("%d worker process(es) died during the run", pooled.deaths)
                code = 1
            elif pooled.interrupted and once:
                code = exit_code_for(2)
        else:
            runner = Runner(app.archive(), filters, settings)
            metrics = None
            if metrics_port is not None:
                from cybexp_core.metrics import Metrics

                metrics = Metrics()
                metrics.filters(f.info.name for f in filters)
                port = metrics.serve(metrics_port, metrics_host)
                app.stack.callback(metrics.close)
                log.warning("metrics on http://%s:%d/metrics", metrics_host, port)
            control = StopControl(
                runner.stop_event, stop_timeout, before_exit=runner.give_back_held
            )
            with control:
                summary = _run_here(runner, app.archive(), once, metrics)
            if once and control.signum is not None:
                code = exit_code_for(control.signum)
    except CybexpError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        click.echo(to_json(summary.as_dict()))
    else:
        print_summary(summary)
    if once and not code:
        held = [
            line for f in filters for line in app.archive().held_leases(f.info.id, f.info.consumes)
        ]
        for line in held:
            click.echo(f"not finished: {line}", err=True)
        code = LEASED_ELSEWHERE if held else 0
    if code:
        sys.exit(code)


def _run_here(runner: Runner, archive: Archive, once: bool, metrics: Metrics | None) -> RunSummary:
    from cybexp_core.daemon import Daemon, log_batch, wait_for_database

    if not once:
        if not wait_for_database(archive, runner.stop_event):
            return RunSummary()
        if metrics is not None:
            metrics.set_database(True)
        return Daemon(runner, metrics).run()
    archive.ensure_indexes()
    runner.on_batch = log_batch
    log.info(
        "run --once started (pid %d): %s",
        os.getpid(),
        ", ".join(f.info.name for f in runner.filters),
    )
    if sys.stderr.isatty():
        total = sum(
            archive.count_pending(f.info.id, f.info.version, f.info.consumes)
            for f in runner.filters
        )
        with click.progressbar(length=total, label="documents", file=sys.stderr) as bar:
            runner.on_progress = bar.update
            return runner.run_once()
    return runner.run_once()
