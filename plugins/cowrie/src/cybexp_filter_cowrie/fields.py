"""Reading fields of one Cowrie event, with errors that name the event id and the field."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from cybexp_core import InputError, Problem

__all__ = ["EventFields", "epoch"]

_UTC = timezone.utc


def epoch(value: str) -> float:
    """Seconds since the epoch (UTC) of an ISO 8601 time, as the original computed it.

    The original did ``fromisoformat(ts.replace("Z", "+00:00")).timestamp()``;
    this gives the same float. A time without an offset is taken as UTC.
    :raises ValueError: If ``value`` is not an ISO 8601 date and time.
    """
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    return parsed.timestamp()


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


class EventFields:
    """One Cowrie event: typed access to its fields and the problems found while reading it."""

    __slots__ = ("event", "eventid", "problems")

    def __init__(self, event: Mapping[str, Any], eventid: str) -> None:
        self.event = event
        self.eventid = eventid
        self.problems: list[Problem] = []

    # ------------------------------------------------------------------ errors

    def error(self, name: str, what: str) -> InputError:
        """An :class:`InputError` ``"<eventid>: field '<name>' <what>"``."""
        return InputError(f"{self.eventid}: field {name!r} {what}", field=name)

    def missing(self, name: str) -> InputError:
        return InputError(f"{self.eventid}: missing field {name!r}", field=name)

    def problem(self, name: str, what: str) -> None:
        """Record that field ``name`` was skipped (the rest of the event is kept)."""
        self.problems.append(Problem(self.eventid, f"field {name!r} {what}; left out"))

    # ------------------------------------------------------------------ readers

    def text(self, name: str) -> str:
        """A required string field (may be empty)."""
        value = self.event.get(name)
        if type(value) is str:
            return value
        if value is None:
            raise self.missing(name)
        raise self.error(name, f"must be a string, got {_type_name(value)}")

    def opt_text(self, name: str) -> str | None:
        """An optional string field; absent, null, blank or of another type gives ``None``."""
        value = self.event.get(name)
        if type(value) is str:
            return value if value.strip() else None
        if value is not None:
            self.problem(name, f"must be a string, got {_type_name(value)}")
        return None

    def port(self, name: str) -> int:
        """A required TCP port (an int, or a string of digits)."""
        value = self.event.get(name)
        if type(value) is str and value.isdigit():
            value = int(value)
        if type(value) is int and 0 <= value <= 65535:
            return value
        if value is None:
            raise self.missing(name)
        raise self.error(name, f"must be a port number, got {value!r}")

    def count(self, name: str, limit: int = 1 << 31) -> int:
        """A required non-negative integer below ``limit`` (terminal width, height)."""
        value = self.event.get(name)
        if type(value) is int and 0 <= value < limit:
            return value
        if value is None:
            raise self.missing(name)
        raise self.error(name, f"must be an integer from 0 to {limit - 1}, got {value!r}")

    def text_list(self, name: str) -> tuple[str, ...] | None:
        """An optional list of strings (SSH algorithm names), as plain ``str``."""
        value = self.event.get(name)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(map(str.__str__, value))  # a str subclass counts as its text
        self.problem(name, "must be a list of strings")
        return None

    def timestamp(self) -> float:
        """``timestamp`` as a UTC epoch float (ISO 8601 text, or already a number)."""
        value = self.event.get("timestamp")
        if type(value) is str:
            try:
                result = epoch(value)
            except ValueError:
                raise self.error("timestamp", f"is not an ISO 8601 time: {value!r}") from None
        elif type(value) in (int, float):
            result = float(value)
        elif value is None:
            raise self.missing("timestamp")
        else:
            raise self.error("timestamp", f"must be an ISO 8601 string, got {_type_name(value)}")
        if not math.isfinite(result):
            raise self.error("timestamp", f"is not a finite time: {value!r}")
        return result

    def duration(self) -> float | None:
        """The session's length in seconds: Cowrie 3.0's integer ``duration_ms``, else
        ``duration`` (a float before 2.9, a string such as ``"2.0"`` from 2.9; one 2.x
        file can hold both)."""
        if "duration" not in self.event and "duration_ms" in self.event:
            milliseconds = self.event["duration_ms"]
            if type(milliseconds) in (int, float) and 0 <= milliseconds < math.inf:
                return milliseconds / 1000
            self.problem("duration_ms", f"is not a number of milliseconds ({milliseconds!r})")
            return None
        value = self.event.get("duration")
        seconds = value
        if type(value) is str:
            with contextlib.suppress(ValueError):
                seconds = float(value)
        if type(seconds) in (int, float) and math.isfinite(seconds) and seconds >= 0:
            return float(seconds)
        self.problem("duration", f"is not a number of seconds ({value!r})")
        return None
