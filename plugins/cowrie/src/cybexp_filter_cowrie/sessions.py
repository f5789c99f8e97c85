"""``cowrie_session`` sessions, built once per identity and re-stamped per event.

A session's hash depends only on its identity (``sessionid`` and the
original's misspelt ``sesnor``); every Cowrie event of the session returns
the same session with its own event hash and times. Validating and hashing
that identity again for each event costs as much as the event itself, so a
hashed template is kept per identity (bounded LRU) and each event gets a
copy with its ``events`` and times set. A self-check at import compares the
copy with a normally built session and falls back to the constructor if the
core model ever derives more from those fields.
"""

from __future__ import annotations

from functools import lru_cache

import attrs

from cybexp_core import Session

from cybexp_filter_cowrie.vocab import identity

__all__ = ["cowrie_session"]

SUB_TYPE = "cowrie_session"
_FIELDS = tuple(field.name for field in attrs.fields(Session))
_STAMPED = frozenset({"events", "start_time", "end_time", "duration"})


@lru_cache(maxsize=1 << 15)
def _template(session: str, sensor: str) -> Session:
    return Session(SUB_TYPE, identity(session, sensor))


def _stamped(
    template: Session,
    events: tuple[str, ...],
    start: float | None,
    end: float | None,
    duration: float | None,
) -> Session:
    copy = object.__new__(Session)
    for name in _FIELDS:
        if name not in _STAMPED:
            object.__setattr__(copy, name, getattr(template, name))
    object.__setattr__(copy, "events", events)
    object.__setattr__(copy, "start_time", start)
    object.__setattr__(copy, "end_time", end)
    object.__setattr__(copy, "duration", duration)
    return copy


def _built(
    session: str,
    sensor: str,
    events: tuple[str, ...],
    start: float | None,
    end: float | None,
    duration: float | None,
) -> Session:
    return Session(
        SUB_TYPE, identity(session, sensor), events=events,
        start_time=start, end_time=end, duration=duration,
    )


def _copy_is_exact() -> bool:
    args = ("s", "t", ("e" * 64,), 1.0, 2.5, 1.5)
    fast = _stamped(_template("s", "t"), *args[2:])
    slow = _built(*args)
    _template.cache_clear()
    same = all(getattr(fast, name) == getattr(slow, name) for name in _FIELDS)
    return same and fast.doc == slow.doc and fast._hash == slow._hash


_FAST = _copy_is_exact()


def cowrie_session(
    session: str,
    sensor: str,
    events: tuple[str, ...],
    start: float | None,
    end: float | None,
    duration: float | None,
) -> Session:
    """The session ``{sessionid, sesnor}`` with these event hashes and times (floats)."""
    if _FAST:
        return _stamped(_template(session, sensor), events, start, end, duration)
    return _built(session, sensor, events, start, end, duration)
