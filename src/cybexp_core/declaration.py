"""What a filter declares about itself (``filter_info``) and what it returns (``filter``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

from cybexp_core.errors import PluginError
from cybexp_core.models import Attribute, Event, Instance, Object, Session

__all__ = ["Consumes", "FilterInfo", "FilterResult", "Problem"]

_ITYPES = ("raw", "attribute", "object", "event", "session")


@frozen
class Consumes:
    """One kind of document a filter reads: raw documents of a sub_type, or derived instances.

    ``sub_type=None`` means every sub_type of that itype (a correlation filter
    that reads all events, say).
    """

    itype: str
    sub_type: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.itype not in _ITYPES:
            raise PluginError(f"Consumes: itype must be one of {_ITYPES}, got {self.itype!r}")
        if self.itype == "raw" and not self.sub_type:
            raise PluginError("Consumes: a raw input needs a sub_type")

    @classmethod
    def raw(cls, sub_type: str) -> Consumes:
        """Raw documents of ``sub_type``."""
        return cls("raw", sub_type)


def _consumes(value: Iterable[Consumes | str]) -> tuple[Consumes, ...]:
    items = tuple(Consumes.raw(item) if isinstance(item, str) else item for item in value)
    if not items:
        raise PluginError("FilterInfo: consumes must name at least one input")
    return items


@frozen
class FilterInfo:
    """A filter's declaration. ``id`` is stable across versions and names its marks."""

    id: str
    name: str
    version: str
    consumes: tuple[Consumes, ...] = field(converter=_consumes)
    description: str = ""
    #: Attribute sub_types this filter makes that a person may look up by value
    #: (``related VALUE`` tries them when no ``--type`` is given).
    indicator_types: tuple[str, ...] = field(converter=tuple, default=())

    def __attrs_post_init__(self) -> None:
        for name in ("id", "name", "version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise PluginError(f"FilterInfo: {name} must be a non-empty str, got {value!r}")
        for sub_type in self.indicator_types:
            if not isinstance(sub_type, str) or not sub_type.isidentifier():
                raise PluginError(f"FilterInfo: indicator type {sub_type!r} is not a sub_type")
        if "." in self.id or self.id.startswith("$"):
            raise PluginError(f"FilterInfo: id {self.id!r} may not contain '.' or start with '$'")


@frozen
class Problem:
    """A part of the input (a row, a line) that was skipped, and why."""

    where: str
    reason: str


_OUTPUT_TYPES = (Attribute, Object, Event, Session)
_new = object.__new__
_set = object.__setattr__


@frozen
class FilterResult:
    """What ``filter`` returns when it wants to report skipped parts besides its instances.

    ``instances`` may hold attributes, objects, events and sessions; their
    descendants need not be listed, the backend writes them too. A plain list
    of instances is the same as ``FilterResult(instances=the_list)``.
    """

    instances: tuple[Instance, ...] = field(converter=tuple, factory=tuple)
    problems: tuple[Problem, ...] = field(converter=tuple, factory=tuple)

    @classmethod
    def of(
        cls,
        instances: list[Instance] | tuple[Instance, ...],
        problems: list[Problem] | tuple[Problem, ...] = (),
    ) -> FilterResult:
        """``FilterResult(instances=..., problems=...)`` of a list or tuple each, for a
        filter's hot path (no converters run; the lists are copied to tuples)."""
        if type(instances) not in (list, tuple) or type(problems) not in (list, tuple):
            return cls(instances=instances, problems=problems)
        result = _new(cls)
        _set(result, "instances", tuple(instances))
        _set(result, "problems", tuple(problems))
        return result

    def checked(self) -> FilterResult:
        """This result, once every instance is found to be an output type.

        :raises PluginError: For an item that is not an instance.
        """
        for item in self.instances:
            if type(item) not in _OUTPUT_TYPES and not isinstance(item, _OUTPUT_TYPES):
                raise PluginError(
                    f"filter() returned a {type(item).__name__}; expected Attribute, Object, "
                    "Event or Session"
                )
        return self

    @classmethod
    def coerce(cls, value: Any) -> FilterResult:
        """Turn a hook's return value into a ``FilterResult`` or raise ``PluginError``."""
        result = value if isinstance(value, FilterResult) else None
        if result is None:
            if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
                raise PluginError(
                    f"filter() must return a list of instances, a FilterResult or None, "
                    f"got {type(value).__name__}"
                )
            result = cls(instances=value)
        return result.checked()
