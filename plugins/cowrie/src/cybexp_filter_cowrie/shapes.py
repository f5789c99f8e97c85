"""Each event's shape (its sub_type, data and ``mal_data``), built once per distinct input.

A handler is a function of the fields it reads, the event id and the protocol; with the
attacker's address, that is all an event's shape depends on (its orgid and timestamp
are not part of it). So the first time an event id is seen, its handler runs on a view
of the event that records every field it reads; the shape is kept under the values of
the fields the handlers of that id were ever seen to read. A later event with the same
values takes the same path through its handler and reads the same fields, so it gets
the remembered shape (and the remembered problems) at the cost of one look-up and one
hash. When a handler reads a field it had not read before (another branch), the set of
fields grows and the key with it, so no older entry can match a key of the new length.

Events with a long string, a nested object or a list of anything but strings in a field
read are built each time (the key would be large or unhashable), as are events whose
handler raised.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from cybexp_core import EventShape, Problem
from cybexp_filter_cowrie.events import Handler
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attacker

__all__ = ["SHAPES_SIZE", "shape_of"]

#: Shapes kept (the oldest goes first); a shape holds a few cached children.
SHAPES_SIZE = 1 << 13
#: Events whose fields read hold more text than this together (a 200 kB command) are
#: built each time: a key and its shape then hold at most a few kB each.
_MAX_KEY_TEXT = 4096
_ABSENT = object()
_STR = {str}
#: Event id -> the fields its handlers were seen to read, in the order first read.
_READS: dict[str, tuple[str, ...]] = {}
_SHAPES: OrderedDict[tuple[Any, ...], tuple[EventShape, tuple[Problem, ...]]] = OrderedDict()


class _Recorded(Mapping[str, Any]):
    """A read-only view of an event that records the names of the fields read."""

    __slots__ = ("event", "names", "whole")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self.names: dict[str, None] = {}
        self.whole = False  # iterated or sized: the shape may depend on every field

    def __getitem__(self, name: str) -> Any:
        self.names[name] = None
        return self.event[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.names[name] = None
        return self.event.get(name, default)

    def __contains__(self, name: object) -> bool:
        self.names[name] = None  # type: ignore[index]
        return name in self.event

    def __iter__(self) -> Iterator[str]:
        self.whole = True
        return iter(self.event)

    def __len__(self) -> int:
        self.whole = True
        return len(self.event)


def _key(
    event: Mapping[str, Any], eventid: str, protocol: str, src_ip: str, names: tuple[str, ...]
) -> tuple[Any, ...] | None:
    """The cache key of an event: its id, protocol, address and the values of ``names``
    (``None`` when one of them cannot be part of a key, or they are too long together)."""
    key: list[Any] = [eventid, protocol, src_ip]
    size = 0
    for name in names:
        value = event.get(name, _ABSENT)
        kind = type(value)
        if kind is str:
            size += len(value)
        elif kind is list:  # a tuple of its strings (no other value makes a str tuple)
            if value:
                if set(map(type, value)) != _STR:
                    return None
                size += sum(map(len, value))
            value = tuple(value)
        elif value is _ABSENT or value is None or kind in (bool, int, float):
            value = (kind, repr(value))  # True, 1 and 1.0 are different inputs
        else:
            return None
        key.append(value)
    return tuple(key) if size <= _MAX_KEY_TEXT else None


def _build(
    handler: Handler, f: EventFields, protocol: str, src_ip: str
) -> tuple[EventShape, list[Problem], _Recorded]:
    """Run ``handler`` on a recorded view of the event and make the event's shape."""
    recorded = _Recorded(f.event)
    seen = EventFields(recorded, f.eventid)
    sub_type, data, mal = handler(seen, protocol)
    try:
        ip, attacker_obj = attacker(src_ip)
    except ValueError:
        raise f.error("src_ip", f"is not an IP address: {src_ip[:80]!r}") from None
    data.append(attacker_obj)
    mal.extend((ip, attacker_obj))
    return EventShape(sub_type, data, mal_data=mal, category="malicious"), seen.problems, recorded


def shape_of(handler: Handler, f: EventFields, protocol: str, src_ip: str) -> EventShape:
    """The shape of the event ``f`` (its handler's problems added to ``f.problems``).

    :raises InputError: As the handler does, or for an ``src_ip`` that is no IP address.
    """
    eventid, event = f.eventid, f.event
    names = _READS.get(eventid)
    key = None if names is None else _key(event, eventid, protocol, src_ip, names)
    if key is not None:
        hit = _SHAPES.get(key)
        if hit is not None:
            if hit[1]:
                f.problems.extend(hit[1])
            return hit[0]
    shape, problems, recorded = _build(handler, f, protocol, src_ip)
    f.problems.extend(problems)
    if recorded.whole:
        return shape
    known = names or ()
    new = tuple(name for name in recorded.names if name not in known)
    if new or names is None:
        names = _READS[eventid] = known + new
        key = _key(event, eventid, protocol, src_ip, names)
    if key is not None:
        if len(_SHAPES) >= SHAPES_SIZE:
            _SHAPES.popitem(last=False)
        _SHAPES[key] = (shape, tuple(problems))
    return shape
