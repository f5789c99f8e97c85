"""Log output a person can follow, or JSON lines for log shippers; UTC ISO-8601 times.

``-v`` shows the runner's INFO lines (one per batch, one per change of state),
``-vv`` DEBUG. pymongo's own loggers stay at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

__all__ = ["LOG_FORMATS", "JsonFormatter", "TextFormatter", "level_for", "setup_logging"]

LOG_FORMATS = ("text", "json")
_QUIET = ("pymongo", "urllib3")


def utc_time(record: logging.LogRecord) -> str:
    """The record's time as UTC ISO-8601 with milliseconds, e.g. ``2026-12-02T17:00:00.123Z``."""
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``TIME LEVEL [process] logger: message``."""

    def __init__(self, *, with_process: bool = False) -> None:
        super().__init__()
        self.with_process = with_process

    def format(self, record: logging.LogRecord) -> str:
        where = f" [{record.processName}]" if self.with_process else ""
        line = f"{utc_time(record)} {record.levelname}{where} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, process, pid, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def level_for(verbose: int) -> int:
    """WARNING by default, INFO at ``-v``, DEBUG at ``-vv``."""
    return [logging.WARNING, logging.INFO, logging.DEBUG][min(max(verbose, 0), 2)]


def setup_logging(level: int, fmt: str = "text", *, with_process: bool = False) -> None:
    """Send every log record at ``level`` or above to stderr in ``fmt`` (``text`` or ``json``).

    Calling it again replaces its own handler; like :func:`logging.basicConfig` it leaves
    a root logger alone that others (a test runner, an embedding program) configured.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_cybexp", False)]
    if root.handlers and not ours:
        return
    for old in ours:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler._cybexp = True  # type: ignore[attr-defined]
    formatter = JsonFormatter() if fmt == "json" else TextFormatter(with_process=with_process)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
