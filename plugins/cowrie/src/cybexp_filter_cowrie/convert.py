"""One Cowrie event to TAHOE instances: its event (if any) and its ``cowrie_session``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cybexp_core import InputError, Instance, Problem
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.handlers import HANDLERS, SESSION_ONLY
from cybexp_filter_cowrie.options import Options
from cybexp_filter_cowrie.protocol import generic
from cybexp_filter_cowrie.sessions import cowrie_session
from cybexp_filter_cowrie.shapes import shape_of

__all__ = ["KNOWN_EVENT_IDS", "convert"]

KNOWN_EVENT_IDS = frozenset(HANDLERS) | SESSION_ONLY


def protocol_of(event: Mapping[str, Any], options: Options, hint: str | None) -> str:
    """``ssh`` or ``telnet``: the event's ``protocol`` (2.9), its ``system`` (before 2.0),
    the ``telnet_sensors`` setting, the Filebeat ``sensor_type``, else ``ssh``."""
    protocol = event.get("protocol")
    if protocol == "telnet" or protocol == "ssh":
        return protocol
    system = event.get("system")
    if type(system) is str and "Telnet" in system:
        return "telnet"
    if event.get("sensor") in options.telnet_sensors:
        return "telnet"
    return "telnet" if hint == "telnet" else "ssh"


def convert(
    event: Mapping[str, Any], orgid: str, options: Options, hint: str | None = None
) -> tuple[list[Instance], list[Problem]]:
    """The instances of one Cowrie event and the parts of it that were left out.

    The session gets ``start_time``/``end_time`` from the event's timestamp
    (the backend keeps the earliest and latest); ``session.closed`` sets the
    end, ``duration`` and ``start_time = end - duration``.

    An event id without a handler that the ``generic_events`` setting names
    becomes a generic ``cowrie_event``.

    :raises InputError: For an unknown event id or a missing or unusable field
        (the message names the event id and the field).
    """
    eventid = event.get("eventid")
    if type(eventid) is not str:
        raise InputError("cowrie: missing field 'eventid'", field="eventid")
    handler = HANDLERS.get(eventid)
    if handler is None and eventid not in SESSION_ONLY:
        if eventid not in options.generic_events:
            raise InputError(
                f"{eventid}: unknown Cowrie event id (field 'eventid'); name it in the "
                "setting 'generic_events' to keep it as a generic event",
                field="eventid",
            )
        handler = generic
    f = EventFields(event, eventid)
    timestamp = f.timestamp()
    session = event.get("session")
    if type(session) is not str:
        session = f.text("session")  # raises the error that names the field
    sensor = event.get("sensor")
    if type(sensor) is not str:
        sensor = f.text("sensor")
    start = timestamp
    duration = None
    if eventid == "cowrie.session.closed":
        duration = f.duration()
        if duration is not None:
            start = timestamp - duration
    instances: list[Instance] = []
    if handler is not None:
        src_ip = event.get("src_ip")
        if type(src_ip) is not str:
            src_ip = f.text("src_ip")
        shape = shape_of(handler, f, protocol_of(event, options, hint), src_ip)
        instances.append(shape.event(orgid, timestamp))
    events = (instances[0]._hash,) if instances else ()
    instances.append(cowrie_session(session, sensor, events, start, timestamp, duration))
    return instances, f.problems
