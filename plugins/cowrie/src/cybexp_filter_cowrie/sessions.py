"""``cowrie_session`` sessions: one identity per Cowrie session, re-stamped per event.

A session's hash depends only on its identity (``sessionid`` and the
original's misspelt ``sesnor``); every event of a Cowrie session returns that
same session with its own event hash and times. The identity is built once
(bounded LRU) and :meth:`Session.with_events` stamps it without hashing again.
"""

from __future__ import annotations

from functools import lru_cache

from cybexp_core import Session
from cybexp_filter_cowrie.vocab import identity

__all__ = ["cowrie_session"]

SUB_TYPE = "cowrie_session"


@lru_cache(maxsize=1 << 15)
def _identity(session: str, sensor: str) -> Session:
    return Session.assemble(SUB_TYPE, identity(session, sensor))


def cowrie_session(
    session: str,
    sensor: str,
    events: tuple[str, ...],
    start: float | None,
    end: float | None,
    duration: float | None,
) -> Session:
    """The session ``{sessionid, sesnor}`` with these event hashes and times (floats)."""
    return _identity(session, sensor).with_events(events, start, end, duration)
