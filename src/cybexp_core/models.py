"""TAHOE instances as frozen attrs classes, with hashes identical to the TAHOE library.

Constructing a model never touches a database: it validates its input,
computes ``_hash`` and exposes ``doc``, the MongoDB document field for field
as TAHOE stores it. Writing is the backend's job.

Each instance caches its canonical data string (``_canon``), so a parent's
hash is built from its children's cached strings instead of re-encoding the
whole tree; ``tests/test_hashing.py`` checks this against a literal port of
TAHOE's ``canonical()``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from attrs import field, frozen

from cybexp_core.composite import Derived, derive, derive_shared, remembered
from cybexp_core.errors import InvalidInstanceError
from cybexp_core.hashing import canonical, quote, sha256_hex

__all__ = [
    "CATEGORIES",
    "Attribute",
    "Child",
    "Event",
    "EventShape",
    "Instance",
    "Object",
    "Raw",
    "Scalar",
    "Session",
    "flatten",
]

Scalar = str | int | float | bool | None
_SCALARS = (str, int, float, bool, type(None))
#: Allowed values of an event's ``category`` and of context lists.
CATEGORIES = ("benign", "malicious", "unknown")


#: Frozen classes set their derived fields with this (attrs' documented way).
_set = object.__setattr__
_new = object.__new__
#: An object or a session (:func:`_assembled`).
_C = TypeVar("_C", "Object", "Session")


#: sub_types already found valid (a filter uses a few dozen; bounded all the same).
_GOOD_SUB_TYPES: set[str] = set()
_MAX_GOOD_SUB_TYPES = 4096


def _check_sub_type(owner: str, sub_type: object) -> None:
    if type(sub_type) is str and sub_type in _GOOD_SUB_TYPES:
        return
    if not isinstance(sub_type, str) or not sub_type.isidentifier():
        raise InvalidInstanceError(
            f"{owner}: sub_type must be a str that is a Python identifier, got {sub_type!r}"
        )
    if type(sub_type) is str and len(_GOOD_SUB_TYPES) < _MAX_GOOD_SUB_TYPES:
        _GOOD_SUB_TYPES.add(sub_type)


def _derivation(
    owner: str, sub_type: object, data: object
) -> tuple[tuple[Child, ...], Derived]:
    """``data`` checked as the children of ``owner`` ``sub_type``, and their derivation
    (:func:`derive_shared`). Children whose derivation is remembered are the very
    objects checked before (the error message is built only when one is checked)."""
    hit = remembered(data)
    if hit is not None:
        return hit
    children = _as_children(f"{owner} {sub_type!r}", data)
    return children, derive_shared(children)


def _exact_children(data: object) -> tuple[Child, ...] | None:
    """``data`` as a tuple when it is a non-empty list or tuple of exact attributes and
    objects (nothing to check), else ``None``."""
    if type(data) not in (list, tuple) or not data:
        return None
    children = tuple(data)  # type: ignore[arg-type]
    for child in children:
        if type(child) not in _CHILD_TYPES:
            return None
    return children


def _as_children(owner: str, data: object) -> tuple[Child, ...]:
    children = _exact_children(data)
    if children is not None:
        return children
    items = [data] if isinstance(data, (Attribute, Object)) else data
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise InvalidInstanceError(
            f"{owner}: data must be an Attribute, an Object or a list of them, "
            f"got {type(data).__name__}"
        )
    children = tuple(items)
    if not children:
        raise InvalidInstanceError(f"{owner}: data must not be empty")
    for child in children:
        if not isinstance(child, (Attribute, Object)):
            raise InvalidInstanceError(
                f"{owner}: data items must be Attribute or Object, got {type(child).__name__}"
            )
    return children


def _plain_children(sub_type: object, children: object) -> tuple[Child, ...] | None:
    """:func:`_exact_children` of ``children`` when ``sub_type`` is known good, else ``None``."""
    if type(sub_type) is not str or sub_type not in _GOOD_SUB_TYPES:
        return None
    return _exact_children(children)


class Instance:
    """Behaviour shared by every TAHOE instance model."""

    __slots__ = ()
    itype: ClassVar[str]
    _hash: str

    @property
    def doc(self) -> dict[str, Any]:
        """The MongoDB document, with TAHOE's field names and order."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        """Instances are equal when they are of one type and have one hash."""
        return type(other) is type(self) and other._hash == self._hash  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._hash)


class _Composite(Instance):
    """Object, Event and Session: instances whose data is a list of children."""

    __slots__ = ()
    sub_type: str
    children: tuple[Child, ...]
    _canon: str
    _data: dict[str, list[Any]]
    _cref: tuple[str, ...]
    _ref: tuple[str, ...]

    def _derive_children(self, owner: str) -> tuple[str, ...]:
        """Check ``children`` and set ``_data``, ``_canon``, ``_cref`` and ``_ref`` from them
        (in TAHOE's canonical order, see :mod:`cybexp_core.composite`); return ``_ref``."""
        children, derived = _derivation(owner, self.sub_type, self.children)
        _set(self, "children", children)
        data, canon, cref, ref = derived
        _set(self, "_data", data)
        _set(self, "_canon", canon)
        _set(self, "_cref", cref)
        _set(self, "_ref", ref)
        return ref

    @property
    def data(self) -> dict[str, list[Any]]:
        """TAHOE's ``data``: ``{child sub_type: [child data, ...]}``."""
        return self._data


@frozen(slots=True, eq=False)
class Attribute(Instance):
    """A single typed value, e.g. ``Attribute("ipv4", "1.1.1.1")``."""

    itype: ClassVar[str] = "attribute"
    #: An attribute has no descendants.
    _ref: ClassVar[tuple[str, ...]] = ()
    sub_type: str
    data: Scalar
    _canon: str = field(init=False, repr=False)
    _hash: str = field(init=False, repr=False)
    _fragment: str | None = field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        sub_type, data = self.sub_type, self.data
        if type(sub_type) is not str or sub_type not in _GOOD_SUB_TYPES:
            _check_sub_type("Attribute", sub_type)
        if type(data) is str:  # the common case, as canonical() does it
            canon = quote(data.strip())
        elif isinstance(data, _SCALARS):
            canon = canonical(data)
        else:
            raise InvalidInstanceError(
                f"Attribute {sub_type!r}: data must be str, int, float, bool or None, "
                f"got {type(data).__name__}"
            )
        _set(self, "_canon", canon)
        _set(self, "_hash", sha256_hex("attribute" + sub_type + canon))

    @classmethod
    def assemble(cls, sub_type: str, data: Scalar) -> Attribute:
        """``Attribute(sub_type, data)``, for a filter's hot path: the same attribute (or
        the same error), built without attrs' ``__init__`` for a known sub_type and a str."""
        if type(data) is not str or type(sub_type) is not str or sub_type not in _GOOD_SUB_TYPES:
            return cls(sub_type, data)
        canon = quote(data.strip())
        attribute = _new(cls)
        put = _ATTRIBUTE_SLOTS
        put["sub_type"](attribute, sub_type)
        put["data"](attribute, data)
        put["_canon"](attribute, canon)
        put["_hash"](attribute, sha256_hex("attribute" + sub_type + canon))
        put["_fragment"](attribute, None)
        return attribute

    @property
    def doc(self) -> dict[str, Any]:
        return {
            "itype": "attribute",
            "data": self.data,
            "sub_type": self.sub_type,
            "_hash": self._hash,
        }


@frozen(slots=True, eq=False)
class Object(_Composite):
    """A named group of attributes and objects, e.g. a ``credential``."""

    itype: ClassVar[str] = "object"
    sub_type: str
    children: tuple[Child, ...] = field(alias="data")
    _data: dict[str, list[Any]] = field(init=False, repr=False)
    _canon: str = field(init=False, repr=False)
    _cref: tuple[str, ...] = field(init=False, repr=False)
    _ref: tuple[str, ...] = field(init=False, repr=False)
    _hash: str = field(init=False, repr=False)
    _fragment: str | None = field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        sub_type = self.sub_type
        if type(sub_type) is not str or sub_type not in _GOOD_SUB_TYPES:
            _check_sub_type("Object", sub_type)
        self._derive_children("Object")
        _set(self, "_hash", sha256_hex("object" + sub_type + self._canon))

    @classmethod
    def assemble(cls, sub_type: str, children: list[Child] | tuple[Child, ...]) -> Object:
        """``Object(sub_type, children)``, for a filter that keeps the objects it builds
        (a cache of its own): the same object (or the same error), built without attrs'
        ``__init__`` and without :func:`~cybexp_core.composite.derive_shared`'s memory."""
        made = _assembled(cls, sub_type, children, (("_fragment", None),))
        return cls(sub_type, children) if made is None else made

    @property
    def doc(self) -> dict[str, Any]:
        return {
            "itype": "object",
            "data": self._data,
            "_cref": list(self._cref),
            "_ref": list(self._ref),
            "sub_type": self.sub_type,
            "_hash": self._hash,
        }


def _context_hashes(
    sub_type: str, name: str, items: object, ref: tuple[str, ...]
) -> tuple[str, ...]:
    """The distinct hashes of ``items`` (``mal_data``/``ben_data``), each one in ``ref``."""
    if type(items) in (list, tuple):  # the common case: a few children, each in ref
        hashes: list[str] = []
        for item in items:  # type: ignore[attr-defined]
            if type(item) not in _CHILD_TYPES or item._hash not in ref:
                break
            if item._hash not in hashes:
                hashes.append(item._hash)
        else:
            return tuple(hashes)
    owner = f"Event {sub_type!r}"
    values = [items] if isinstance(items, (Attribute, Object)) else items
    if not isinstance(values, Iterable) or isinstance(values, (str, bytes, Mapping)):
        raise InvalidInstanceError(f"{owner}: {name} must be a list of Attribute/Object")
    known = set(ref)
    found: dict[str, None] = {}
    for item in values:
        if not isinstance(item, (Attribute, Object)):
            raise InvalidInstanceError(
                f"{owner}: {name} items must be Attribute or Object, got {type(item).__name__}"
            )
        if item._hash not in known:
            raise InvalidInstanceError(
                f"{owner}: {name} holds {item.sub_type!r} {item._hash[:12]}…, "
                "which is not part of the event's data"
            )
        found[item._hash] = None
    return tuple(found)


def _as_tuple(items: Any) -> tuple[Any, ...]:
    return (items,) if isinstance(items, (Attribute, Object)) else tuple(items)


def _check_timestamp(owner: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is float and value - value == 0.0:  # finite float: the common case
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInstanceError(f"{owner}: {name} must be an int or float, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInstanceError(f"{owner}: {name} must be finite, got {value!r}")


def _check_max_events(owner: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInstanceError(
            f"{owner}: max_events must be None or a positive int, got {value!r}"
        )


class _Keep(enum.Enum):
    """Default of :meth:`Session.with_events`'s ``max_events``: keep the session's own."""

    KEEP = "keep"


@frozen(slots=True, eq=False)
class Event(_Composite):
    """Something that happened at ``timestamp``, reported by ``orgid``.

    ``mal_data``/``ben_data`` name the children (or descendants) that are
    malicious/benign in the context of this event (``_mal_ref``/``_ben_ref``).
    ``category`` is not part of the hash.
    """

    itype: ClassVar[str] = "event"
    sub_type: str
    children: tuple[Child, ...] = field(alias="data")
    orgid: str
    timestamp: float
    mal_data: Iterable[Child] = field(default=(), repr=False)
    ben_data: Iterable[Child] = field(default=(), repr=False)
    category: str = "unknown"
    _data: dict[str, list[Any]] = field(init=False, repr=False)
    _canon: str = field(init=False, repr=False)
    _cref: tuple[str, ...] = field(init=False, repr=False)
    _ref: tuple[str, ...] = field(init=False, repr=False)
    _mal_ref: tuple[str, ...] = field(init=False, repr=False)
    _ben_ref: tuple[str, ...] = field(init=False, repr=False)
    _hash: str = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        sub_type, orgid, timestamp = self.sub_type, self.orgid, self.timestamp
        if type(sub_type) is not str or sub_type not in _GOOD_SUB_TYPES:
            _check_sub_type("Event", sub_type)
        if type(orgid) is not str:
            raise InvalidInstanceError(f"Event {sub_type!r}: orgid must be a str, got {orgid!r}")
        if type(timestamp) is not float or timestamp - timestamp != 0.0:
            _check_timestamp(f"Event {sub_type!r}", "timestamp", timestamp)
            timestamp = float(timestamp)  # type: ignore[arg-type]
            _set(self, "timestamp", timestamp)
        if self.category not in CATEGORIES:
            raise InvalidInstanceError(
                f"Event {sub_type!r}: category must be one of {CATEGORIES}, got {self.category!r}"
            )
        ref = self._derive_children("Event")
        mal_data, ben_data = self.mal_data, self.ben_data
        mal = ben = ()
        if mal_data:
            mal = _context_hashes(sub_type, "mal_data", mal_data, ref)
            if type(mal_data) is list:
                _set(self, "mal_data", tuple(mal_data))
            elif type(mal_data) is not tuple:
                _set(self, "mal_data", _as_tuple(mal_data))
        elif type(mal_data) is not tuple:
            _set(self, "mal_data", ())
        if ben_data:
            ben = _context_hashes(sub_type, "ben_data", ben_data, ref)
            if type(ben_data) is not tuple:
                _set(self, "ben_data", _as_tuple(ben_data))
            if mal and set(mal) & set(ben):
                raise InvalidInstanceError(
                    f"Event {sub_type!r}: an item cannot be both malicious and benign"
                )
        elif type(ben_data) is not tuple:
            _set(self, "ben_data", ())
        _set(self, "_mal_ref", mal)
        _set(self, "_ben_ref", ben)
        unique = "event" + sub_type + orgid + repr(timestamp) + self._canon
        _set(self, "_hash", sha256_hex(unique))

    @classmethod
    def assemble(
        cls,
        sub_type: str,
        children: list[Child],
        orgid: str,
        timestamp: float,
        mal_data: list[Child],
        category: str,
    ) -> Event:
        """``Event(sub_type, children, orgid, timestamp, mal_data=mal_data,
        category=category)``, for a filter's hot path: the same event (or the same
        error), built without attrs' ``__init__`` when the arguments are of the
        usual types (a known sub_type, a str orgid, a finite float timestamp).
        """
        if (
            type(sub_type) is not str
            or sub_type not in _GOOD_SUB_TYPES
            or type(orgid) is not str
            or type(timestamp) is not float
            or timestamp - timestamp != 0.0
            or category not in CATEGORIES
            or type(mal_data) is not list
        ):
            return cls(sub_type, children, orgid, timestamp, mal_data=mal_data, category=category)
        return EventShape(sub_type, children, mal_data=mal_data, category=category).event(
            orgid, timestamp
        )

    @property
    def doc(self) -> dict[str, Any]:
        return {
            "itype": "event",
            "orgid": self.orgid,
            "timestamp": self.timestamp,
            "category": self.category,
            "data": self._data,
            "_cref": list(self._cref),
            "_ref": list(self._ref),
            "_ben_ref": list(self._ben_ref),
            "_mal_ref": list(self._mal_ref),
            "sub_type": self.sub_type,
            "_hash": self._hash,
        }


class EventShape:
    """What events that differ only in ``orgid`` and ``timestamp`` share: sub_type, data,
    context and category, validated and derived once.

    ``EventShape(sub_type, data, mal_data=..., ben_data=..., category=...)`` takes what
    :class:`Event` takes but the orgid and timestamp, and checks it the same way;
    :meth:`event` then gives ``Event(sub_type, data, orgid, timestamp, ...)`` at the
    cost of one hash. A filter whose events repeat (the same attacker trying the same
    credential) keeps shapes in a bounded cache of its own.
    """

    __slots__ = ("_head", "_proto")

    def __init__(
        self,
        sub_type: str,
        data: Child | Iterable[Child],
        mal_data: Iterable[Child] = (),
        ben_data: Iterable[Child] = (),
        category: str = "unknown",
    ) -> None:
        kids = _plain_children(sub_type, data)
        if kids is None or ben_data or category not in CATEGORIES or type(mal_data) is not list:
            proto = Event(
                sub_type, data, "", 0.0, mal_data=mal_data, ben_data=ben_data, category=category
            )
        else:  # what Event() makes of these, without attrs' __init__ or a hash
            derived, canon, cref, ref = derive(kids)
            proto = _new(Event)
            put = _EVENT_SLOTS
            put["sub_type"](proto, sub_type)
            put["children"](proto, kids)
            put["mal_data"](proto, tuple(mal_data))
            put["ben_data"](proto, ())
            put["category"](proto, category)
            put["_data"](proto, derived)
            put["_canon"](proto, canon)
            put["_cref"](proto, cref)
            put["_ref"](proto, ref)
            put["_mal_ref"](proto, _context_hashes(sub_type, "mal_data", mal_data, ref))
            put["_ben_ref"](proto, ())
        self._proto = proto
        self._head = "event" + sub_type

    @property
    def sub_type(self) -> str:
        """The events' sub_type."""
        return self._proto.sub_type

    def event(self, orgid: str, timestamp: float) -> Event:
        """The event of this shape reported by ``orgid`` at ``timestamp``.

        :raises InvalidInstanceError: As :class:`Event` does for the orgid or timestamp.
        """
        proto = self._proto
        if type(orgid) is not str or type(timestamp) is not float or timestamp - timestamp:
            return Event(
                proto.sub_type,
                proto.children,
                orgid,
                timestamp,
                mal_data=proto.mal_data,
                ben_data=proto.ben_data,
                category=proto.category,
            )
        return _EVENT_COPY(
            proto,
            orgid,
            timestamp,
            sha256_hex(self._head + orgid + float.__repr__(timestamp) + proto._canon),
        )


@frozen(slots=True, eq=False)
class Session(_Composite):
    """A group of events that share an identity (``data``), e.g. one Cowrie session.

    ``events`` are hashes to add to the session's ``_ref``. ``start_time``,
    ``end_time`` and ``duration`` are not hashed; the backend merges them into
    the stored session (earliest start, latest end, longest duration), so the
    result does not depend on the order in which events arrive.

    ``max_events`` (keyword only, not hashed, not in ``doc``) caps the events
    the stored session lists: once its ``_ref`` holds the identity and that
    many events, further events are not added (their times still are) and the
    stored session gets ``saturated: true``. ``None``: no cap.
    """

    itype: ClassVar[str] = "session"
    sub_type: str
    children: tuple[Child, ...] = field(alias="data")
    events: tuple[str, ...] = field(default=(), converter=tuple)
    start_time: float | None = None
    end_time: float | None = None
    duration: float | None = None
    max_events: int | None = field(default=None, kw_only=True)
    _data: dict[str, list[Any]] = field(init=False, repr=False)
    _canon: str = field(init=False, repr=False)
    _cref: tuple[str, ...] = field(init=False, repr=False)
    _ref: tuple[str, ...] = field(init=False, repr=False)
    _hash: str = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_sub_type("Session", self.sub_type)  # before it is used in a message
        self._set_stamp(self.events, self.start_time, self.end_time, self.duration)
        if self.max_events is not None:
            _check_max_events(f"Session {self.sub_type!r}", self.max_events)
        self._derive_children("Session")
        _set(self, "_hash", sha256_hex("session" + self.sub_type + self._canon))

    @classmethod
    def assemble(cls, sub_type: str, children: list[Child] | tuple[Child, ...]) -> Session:
        """``Session(sub_type, children)`` (no events, times or cap), for a filter that keeps
        the identities it builds and stamps them with :meth:`with_events`: the same session
        (or the same error), built without attrs' ``__init__`` or the shared derivations."""
        made = _assembled(cls, sub_type, children, _UNSTAMPED)
        return cls(sub_type, children) if made is None else made

    def _set_stamp(
        self, events: Iterable[str], start: object, end: object, duration: object
    ) -> None:
        if type(events) is not tuple:
            events = tuple(events)
        if len(events) != 1 or type(events[0]) is not str:  # one hash: the common case
            for event_hash in events:
                if not isinstance(event_hash, str):
                    raise InvalidInstanceError(
                        f"Session {self.sub_type!r}: events must be hashes (str)"
                    )
        _set(self, "events", events)
        if (
            (start is None or (type(start) is float and start - start == 0.0))
            and (end is None or (type(end) is float and end - end == 0.0))
            and (duration is None or (type(duration) is float and duration - duration == 0.0))
        ):  # finite floats or None: the common case
            _set(self, "start_time", start)
            _set(self, "end_time", end)
            _set(self, "duration", duration)
            return
        owner = f"Session {self.sub_type!r}"
        for name, value in (("start_time", start), ("end_time", end), ("duration", duration)):
            _check_timestamp(owner, name, value, optional=True)
            _set(self, name, None if value is None else float(value))  # type: ignore[arg-type]

    def with_events(
        self,
        events: Iterable[str] = (),
        start_time: float | None = None,
        end_time: float | None = None,
        duration: float | None = None,
        max_events: int | Literal[_Keep.KEEP] | None = _Keep.KEEP,
    ) -> Session:
        """The same session (identity and hash) carrying other events and times.

        Cheaper than building it again: the identity is neither validated nor
        hashed a second time. Filters that emit one session per event use it.
        ``max_events`` is this session's unless given (``None`` removes the cap).
        """
        copy = _new(Session)
        put = _SESSION_SLOTS
        put["sub_type"](copy, self.sub_type)
        put["children"](copy, self.children)
        put["_data"](copy, self._data)
        put["_canon"](copy, self._canon)
        put["_cref"](copy, self._cref)
        put["_ref"](copy, self._ref)
        put["_hash"](copy, self._hash)
        if (
            type(events) is tuple
            and len(events) == 1
            and type(events[0]) is str
            and type(start_time) is float
            and start_time - start_time == 0.0
            and type(end_time) is float
            and end_time - end_time == 0.0
            and (duration is None or (type(duration) is float and duration - duration == 0.0))
        ):  # one event hash, finite times: the common case
            put["events"](copy, events)
            put["start_time"](copy, start_time)
            put["end_time"](copy, end_time)
            put["duration"](copy, duration)
        else:
            copy._set_stamp(events, start_time, end_time, duration)
        if max_events is _Keep.KEEP:
            max_events = self.max_events
        elif max_events is not None:
            _check_max_events(f"Session {self.sub_type!r}", max_events)
        put["max_events"](copy, max_events)
        return copy

    @property
    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "itype": "session",
            "data": self._data,
            "_cref": list(self._cref),
            "_ref": list(dict.fromkeys(self._ref + self.events)),
            "sub_type": self.sub_type,
            "_hash": self._hash,
        }
        for name in ("start_time", "end_time", "duration"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = value
        return doc


@frozen(slots=True, eq=False)
class Raw(Instance):
    """A document as an organisation submitted it; filters turn it into instances.

    As in TAHOE, ``orgid`` and ``timezone`` are not hashed: the same payload
    from two organisations is one document.
    """

    itype: ClassVar[str] = "raw"
    sub_type: str
    data: Any
    orgid: str
    timezone: str = "UTC"
    _hash: str = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_sub_type("Raw", self.sub_type)
        if not isinstance(self.orgid, str):
            raise InvalidInstanceError(f"Raw {self.sub_type!r}: orgid must be a str")
        if not isinstance(self.timezone, str):
            raise InvalidInstanceError(f"Raw {self.sub_type!r}: timezone must be a str")
        try:
            canon = canonical(self.data)
        except (TypeError, ValueError) as exc:
            raise InvalidInstanceError(f"Raw {self.sub_type!r}: data is not JSON: {exc}") from exc
        _set(self, "_hash", sha256_hex("raw" + self.sub_type + canon))

    @property
    def doc(self) -> dict[str, Any]:
        return {
            "itype": "raw",
            "data": self.data,
            "orgid": self.orgid,
            "timezone": self.timezone,
            "sub_type": self.sub_type,
            "_hash": self._hash,
        }


Child = Attribute | Object
#: Setters of the slots of Session and Event (a slot's own ``__set__``, cheaper than
#: ``object.__setattr__``), for their hot paths.
def _slot_setters(cls: type) -> dict[str, Any]:
    return {name: cls.__dict__[name].__set__ for name in cls.__slots__ if name[:2] != "__"}


_ATTRIBUTE_SLOTS = _slot_setters(Attribute)
_OBJECT_SLOTS = _slot_setters(Object)
_SESSION_SLOTS = _slot_setters(Session)
_EVENT_SLOTS = _slot_setters(Event)
_SLOTS_OF: dict[type, dict[str, Any]] = {Object: _OBJECT_SLOTS, Session: _SESSION_SLOTS}
#: The slots of a session with no events, times or cap.
_UNSTAMPED = (
    ("events", ()),
    ("start_time", None),
    ("end_time", None),
    ("duration", None),
    ("max_events", None),
)


def _assembled(
    cls: type[_C], sub_type: str, children: object, rest: tuple[tuple[str, Any], ...]
) -> _C | None:
    """An object or session of ``children`` (its other slots set from ``rest``) built
    without attrs' ``__init__``, or ``None`` when the arguments need the constructor's
    checks (:func:`_plain_children`)."""
    kids = _plain_children(sub_type, children)
    if kids is None:
        return None
    data, canon, cref, ref = derive(kids)
    made = _new(cls)
    put = _SLOTS_OF[cls]
    put["sub_type"](made, sub_type)
    put["children"](made, kids)
    put["_data"](made, data)
    put["_canon"](made, canon)
    put["_cref"](made, cref)
    put["_ref"](made, ref)
    put["_hash"](made, sha256_hex(cls.itype + sub_type + canon))
    for name, value in rest:
        put[name](made, value)
    return made


def _event_copier() -> Callable[[Event, str, float, str], Event]:
    """``copy(proto, orgid, timestamp, hash)``: a new event with ``proto``'s other slots
    (each slot's own setter, written out: a loop over them costs half as much again)."""
    slots = Event.__dict__
    names = ("sub_type", "children", "mal_data", "ben_data", "category", "_data", "_canon")
    names += ("_cref", "_ref", "_mal_ref", "_ben_ref")
    (p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11) = (slots[n].__set__ for n in names)
    put_orgid, put_timestamp = slots["orgid"].__set__, slots["timestamp"].__set__
    put_hash = slots["_hash"].__set__

    def copy(proto: Event, orgid: str, timestamp: float, hash_: str) -> Event:
        event = _new(Event)
        p1(event, proto.sub_type)
        p2(event, proto.children)
        p3(event, proto.mal_data)
        p4(event, proto.ben_data)
        p5(event, proto.category)
        p6(event, proto._data)
        p7(event, proto._canon)
        p8(event, proto._cref)
        p9(event, proto._ref)
        p10(event, proto._mal_ref)
        p11(event, proto._ben_ref)
        put_orgid(event, orgid)
        put_timestamp(event, timestamp)
        put_hash(event, hash_)
        return event

    return copy


_EVENT_COPY = _event_copier()
_CHILD_TYPES = (Attribute, Object)


def flatten(instances: Iterable[Instance]) -> Iterator[Instance]:
    """Yield each instance and all its descendants (children first, then the parent)."""
    for instance in instances:
        if type(instance) is not Attribute and isinstance(instance, _Composite):
            yield from _descendants(instance.children)
        yield instance


def _descendants(children: tuple[Child, ...]) -> list[Child]:
    """:func:`flatten` of a composite's children, as a list (no generator per level)."""
    found: list[Child] = []
    for child in children:
        if type(child) is not Attribute and isinstance(child, _Composite):
            found += _descendants(child.children)
        found.append(child)
    return found
