"""``cowrie_session`` sessions: one identity per Cowrie session, re-stamped per event.

A session's hash depends only on its identity (``sessionid`` and the
original's misspelt ``sesnor``); every event of a Cowrie session returns that
same session with its own event hash and times. The identity is built once
(bounded LRU) and :meth:`Session.with_events` stamps it without hashing again.
Its ``sessionid`` attribute is not kept apart: it belongs to this session alone.
"""

from __future__ import annotations

from functools import lru_cache

from cybexp_core import Attribute, Session
from cybexp_filter_cowrie.vocab import MAX_CACHED_TEXT, attr

__all__ = ["cowrie_session"]

SUB_TYPE = "cowrie_session"


def _build(session: str, sensor: str) -> Session:
    """The original's identity: ``sessionid`` and the misspelt ``sesnor``."""
    return Session.assemble(
        SUB_TYPE, [Attribute.assemble("sessionid", session), attr("sesnor", sensor)]
    )


_identity = lru_cache(maxsize=1 << 15)(_build)


def cowrie_session(
    session: str,
    sensor: str,
    events: tuple[str, ...],
    start: float | None,
    end: float | None,
    duration: float | None,
) -> Session:
    """The session ``{sessionid, sesnor}`` with these event hashes and times (floats);
    an identity of long text (a hostile sensor's) is built each time, never kept."""
    if len(session) > MAX_CACHED_TEXT or len(sensor) > MAX_CACHED_TEXT:
        return _build(session, sensor).with_events(events, start, end, duration)
    return _identity(session, sensor).with_events(events, start, end, duration)
