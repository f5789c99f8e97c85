"""Prometheus metrics of ``run --metrics-port``, and ``/healthz`` / ``/readyz`` on the same port.

Each process has its own registry (no global state), served by a small WSGI
server in a daemon thread. ``/healthz`` answers 200 while the process runs;
``/readyz`` answers 200 when the database answered recently and the plugins
are loaded, 503 otherwise. docs/operators.md lists what each metric means.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from cybexp_core.worker import FilterStats

__all__ = ["Metrics"]

log = logging.getLogger(__name__)
BATCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics: " + format, *args)


class Metrics:
    """The counters and gauges of one ``run`` process."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.documents = Counter(
            "cybexp_documents",
            "Documents a filter handled, by outcome (processed, failed, not_for_it).",
            ["filter", "outcome"],
            registry=registry,
        )
        self.problems = Counter(
            "cybexp_problems",
            "Problems filters reported in documents.",
            ["filter"],
            registry=registry,
        )
        self.instances = Counter(
            "cybexp_instances_written",
            "TAHOE instances filters produced and wrote (idempotent: existing ones included).",
            ["filter"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "cybexp_batch_seconds",
            "Seconds per batch of work (claim, filter, write, mark).",
            ["filter"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.pending = Gauge(
            "cybexp_pending_documents",
            "Documents waiting for a filter.",
            ["filter"],
            registry=registry,
        )
        self.lag = Gauge(
            "cybexp_lag_seconds",
            "Age of the oldest document waiting for a filter (0 when none waits).",
            ["filter"],
            registry=registry,
        )
        self.backoff = Gauge(
            "cybexp_backoff_seconds",
            "Seconds until the filter is tried again after database errors (0: not backing off).",
            ["filter"],
            registry=registry,
        )
        self.leases = Gauge(
            "cybexp_leases_held", "Leases this process holds now.", registry=registry
        )
        self.stream = Gauge(
            "cybexp_change_stream",
            "1 while new documents arrive through a change stream, 0 while polling.",
            registry=registry,
        )
        self.database_up = Gauge(
            "cybexp_database_up",
            "1 when the database answered the last request.",
            registry=registry,
        )
        self.plugins = Gauge(
            "cybexp_plugins_loaded", "Filter plugins loaded and running.", registry=registry
        )
        self._server: WSGIServer | None = None
        self._database_up = False
        self._plugins = 0

    def filters(self, names: Iterable[str]) -> None:
        """Show every filter's series from the start (at zero)."""
        count = 0
        for name in names:
            count += 1
            for outcome in ("processed", "failed", "not_for_it"):
                self.documents.labels(name, outcome)
            for family in (self.problems, self.instances, self.backoff):
                family.labels(name)
        self._plugins = count
        self.plugins.set(count)

    def batch(self, name: str, stats: FilterStats, seconds: float) -> None:
        """Count one batch's outcome."""
        self.documents.labels(name, "processed").inc(stats.processed)
        self.documents.labels(name, "failed").inc(stats.failed)
        self.documents.labels(name, "not_for_it").inc(stats.skipped)
        self.problems.labels(name).inc(stats.problems)
        self.instances.labels(name).inc(stats.instances)
        self.batch_seconds.labels(name).observe(seconds)

    def set_database(self, up: bool) -> None:
        """Whether the database answered the last request."""
        self._database_up = up
        self.database_up.set(1 if up else 0)

    def ready(self) -> bool:
        """The database answers and at least one filter is loaded."""
        return self._database_up and self._plugins > 0

    # ------------------------------------------------------------------ HTTP

    def _app(self) -> Callable[..., Iterable[bytes]]:
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "/")
            if path == "/healthz":
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok\n"]
            if path == "/readyz":
                ready = self.ready()
                start_response(
                    "200 OK" if ready else "503 Service Unavailable",
                    [("Content-Type", "text/plain")],
                )
                return [b"ready\n" if ready else b"not ready: database or plugins\n"]
            return metrics_app(environ, start_response)

        return app

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` (0: any free port);
        returns the port."""
        self._server = make_server(host, port, self._app(), handler_class=_Quiet)
        thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        thread.start()
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
