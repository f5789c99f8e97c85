"""``cowrie_session`` sessions, hashed once per identity and re-stamped per event.

A session's hash depends only on its identity (``sessionid`` and the
original's misspelt ``sesnor``); every event of a Cowrie session returns
that same session with its own event hash and times. Validating and hashing
the identity again for each event would cost about half as much as the
event itself, so the identity's derived fields are kept per identity
(bounded LRU) and copied into a new ``Session`` with the event's
``events``/times. A self-check at import compares such a copy with a
normally built session; if the core model ever changes so that they
differ, every session is built with the constructor instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import attrs

from cybexp_core import Session
from cybexp_filter_cowrie.vocab import identity

__all__ = ["cowrie_session"]

SUB_TYPE = "cowrie_session"
_STAMPED = ("events", "start_time", "end_time", "duration")
_new = object.__new__


def _setter(name: str) -> Callable[[Any, Any], None]:
    return Session.__dict__[name].__set__  # a slot's descriptor: bypasses frozen __setattr__


def _fields() -> tuple[list[str], tuple[Callable[[Any, Any], None], ...]]:
    names = [field.name for field in attrs.fields(Session)]
    kept = [name for name in names if name not in _STAMPED]
    return kept, tuple(_setter(name) for name in (*kept, *_STAMPED))


_KEPT, _SETTERS = _fields()


@lru_cache(maxsize=1 << 15)
def _identity_values(session: str, sensor: str) -> tuple[Any, ...]:
    template = Session(SUB_TYPE, identity(session, sensor))
    return tuple(getattr(template, name) for name in _KEPT)


def _stamped(session: str, sensor: str, *stamp: Any) -> Session:
    copy = _new(Session)
    for setter, value in zip(_SETTERS, (*_identity_values(session, sensor), *stamp), strict=True):
        setter(copy, value)
    return copy


def _built(
    session: str, sensor: str, events: tuple[str, ...], start: Any, end: Any, duration: Any
) -> Session:
    return Session(
        SUB_TYPE,
        identity(session, sensor),
        events=events,
        start_time=start,
        end_time=end,
        duration=duration,
    )


def _copy_is_exact() -> bool:
    args = ("s", "t", ("e" * 64,), 1.0, 2.5, 1.5)
    try:
        fast, slow = _stamped(*args), _built(*args)
    except (AttributeError, KeyError, TypeError):
        return False
    finally:
        _identity_values.cache_clear()
    names = [field.name for field in attrs.fields(Session)]
    same = all(getattr(fast, name) == getattr(slow, name) for name in names)
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
        return _stamped(session, sensor, events, start, end, duration)
    return _built(session, sensor, events, start, end, duration)
