"""What a plugin's command needs (the ``register_commands`` hook): the archive, times, errors.

Part of the plugin API (``docs/plugins.md``)::

    @click.command()
    @click.option("--since", metavar="TIME")
    @pass_archive
    def mycommand(archive: Archive, since: str | None) -> None:
        start = parse_time(since, "--since")
        for doc in archive.collection.find({"itype": "event"}): ...

``Archive.collection`` is the pymongo collection of TAHOE instances; the
database is the one the global options (``--mongo-url``, ``--config``...) name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import click

from cybexp_core.app import App, fail
from cybexp_core.backend import Archive

__all__ = ["Archive", "fail", "parse_time", "pass_archive"]

F = TypeVar("F", bound=Callable[..., Any])


def pass_archive(command: F) -> F:
    """Decorate a click command to receive the connected :class:`Archive` as first argument."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        app = click.get_current_context().find_object(App)
        if app is None:
            raise fail("this command runs under cybexp-analytics (no application state found)")
        return command(app.archive(), *args, **kwargs)

    return run  # type: ignore[return-value]


def parse_time(value: str | None, option: str | None = None) -> float | None:
    """Epoch seconds from an epoch number or an ISO 8601 date/time (UTC if no zone).

    :param option: The option it came from (``"--since"``), named in the error.
    :raises click.BadParameter: If ``value`` is neither.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither epoch seconds nor an ISO date like 2020-04-28T00:00:00Z",
            param_hint=f"'{option}'" if option else None,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()
