"""Each event's shape (its sub_type, data and ``mal_data``), built once per distinct input.

A handler is a function of the fields it reads, the event id and the protocol; with the
attacker's address, that is all an event's shape depends on (its orgid and timestamp
are not part of it). So the first time an event id is seen, its handler runs on a view
of the event that records every field it reads; the shape is kept under the values of
the fields the handlers of that id were ever seen to read. A later event with the same
values takes the same path through its handler and reads the same fields, so it gets
the remembered shape (and the remembered problems) at the cost of one look-up and one
hash. The handler's output is kept apart under the same key without the address, so
the same credential tried from a new address costs the attacker's part, not the
handler run. When a handler reads a field it had not read before (another branch), the set of
fields grows and the key with it, so no older entry can match a key of the new length.

Events with a long string, a nested object or a list of anything but strings in a field
read are built each time (the key would be large or unhashable), as are events whose
handler raised.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from cybexp_core import Child, EventShape, Problem
from cybexp_filter_cowrie.events import Handler
from cybexp_filter_cowrie.fields import EventFields
from cybexp_filter_cowrie.vocab import attacker

__all__ = ["SHAPES_SIZE", "shape_of"]

#: Shapes kept, and handler outputs (the oldest goes first); each holds a few cached children.
SHAPES_SIZE = 1 << 13
#: Events whose fields read hold more text than this together (a 200 kB command) are
#: built each time: a key and its shape then hold at most a few kB each.
_MAX_KEY_TEXT = 4096
_ABSENT = object()
#: Event id -> the fields its handlers were seen to read, in the order first read.
_READS: dict[str, tuple[str, ...]] = {}
#: What a handler made of an event: sub_type, data, mal_data and problems (no attacker).
Output = tuple[str, tuple[Child, ...], tuple[Child, ...], tuple[Problem, ...]]
#: The handler key (:func:`_key`) -> the handler's output, for any address.
_OUTPUTS: OrderedDict[tuple[Any, ...], Output] = OrderedDict()
#: (handler key, address) -> the event's shape and problems.
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
    event: Mapping[str, Any], eventid: str, protocol: str, names: tuple[str, ...]
) -> tuple[Any, ...] | None:
    """The handler's cache key of an event: its id, protocol and the values of ``names``
    (``None`` when one of them cannot be part of a key, or they are too long together)."""
    key: list[Any] = [eventid, protocol]
    size = 0
    for name in names:
        value = event.get(name, _ABSENT)
        kind = type(value)
        if kind is str:
            size += len(value)
        elif kind is list:  # a tuple of its strings (a str subclass counts as its text,
            # as in EventFields.text_list)
            if value:
                try:  # one C call checks that every item is a str and measures them
                    size += len("".join(value))
                except TypeError:
                    return None
            value = tuple(value)
        elif value is _ABSENT or value is None or kind in (bool, int, float):
            value = (kind, repr(value))  # True, 1 and 1.0 are different inputs
        else:
            return None
        key.append(value)
    return tuple(key) if size <= _MAX_KEY_TEXT else None


def _run_handler(handler: Handler, f: EventFields, protocol: str) -> tuple[Output, _Recorded]:
    """Run ``handler`` on a recorded view of the event."""
    recorded = _Recorded(f.event)
    seen = EventFields(recorded, f.eventid)
    sub_type, data, mal = handler(seen, protocol)
    return (sub_type, tuple(data), tuple(mal), tuple(seen.problems)), recorded


def _shape(output: Output, f: EventFields, src_ip: str) -> EventShape:
    """The event shape of a handler's output with the attacker at ``src_ip``."""
    sub_type, data, mal, _ = output
    try:
        ip, attacker_obj = attacker(src_ip)
    except ValueError:
        raise f.error("src_ip", f"is not an IP address: {src_ip[:80]!r}") from None
    return EventShape(
        sub_type, [*data, attacker_obj], mal_data=[*mal, ip, attacker_obj], category="malicious"
    )


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= SHAPES_SIZE:
        cache.popitem(last=False)
    cache[key] = value


def shape_of(handler: Handler, f: EventFields, protocol: str, src_ip: str) -> EventShape:
    """The shape of the event ``f`` (its handler's problems added to ``f.problems``).

    :raises InputError: As the handler does, or for an ``src_ip`` that is no IP address.
    """
    eventid, event = f.eventid, f.event
    names = _READS.get(eventid)
    key = None if names is None else _key(event, eventid, protocol, names)
    if key is not None:
        hit = _SHAPES.get((key, src_ip))
        if hit is not None:
            if hit[1]:
                f.problems.extend(hit[1])
            return hit[0]
        output = _OUTPUTS.get(key)
        if output is not None:  # the same fields from another address
            shape = _shape(output, f, src_ip)
            _remember(_SHAPES, (key, src_ip), (shape, output[3]))
            f.problems.extend(output[3])
            return shape
    output, recorded = _run_handler(handler, f, protocol)
    shape = _shape(output, f, src_ip)
    f.problems.extend(output[3])
    if recorded.whole:
        return shape
    known = names or ()
    new = tuple(name for name in recorded.names if name not in known)
    if new or names is None:
        names = _READS[eventid] = known + new
        key = _key(event, eventid, protocol, names)
    if key is not None:
        _remember(_OUTPUTS, key, output)
        _remember(_SHAPES, (key, src_ip), (shape, output[3]))
    return shape
