"""Instances that several plugins build the same way (compose these; don't subclass plugins)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from attrs import define, field

from cybexp_core.declaration import FilterResult, Problem
from cybexp_core.errors import InputError
from cybexp_core.models import CATEGORIES, Attribute, Child, Event, Instance, Session

__all__ = ["Entries", "scalar_attribute", "sighting_event"]


def sighting_event(
    indicators: Sequence[Child],
    orgid: str,
    timestamp: float,
    *,
    category: str = "unknown",
    context: str = "unknown",
    extra: Sequence[Child] = (),
) -> Event:
    """A TAHOE ``sighting`` event: ``indicators`` were seen at ``timestamp``.

    ``context`` says what the indicators are in this sighting: ``malicious``
    puts them in ``_mal_ref``, ``benign`` in ``_ben_ref``, ``unknown`` in
    neither. ``extra`` children (a feed's record id, say) are part of the event
    but get no context. With one indicator and no extra, the event is the one
    the original CYBEX-P sighting filter made.
    """
    if category not in CATEGORIES:
        raise InputError(f"category must be one of {CATEGORIES}, got {category!r}")
    if context not in CATEGORIES:
        raise InputError(f"context must be one of {CATEGORIES}, got {context!r}")
    if not indicators:
        raise InputError("a sighting needs at least one indicator")
    data = [*indicators, *extra]
    return Event(
        "sighting",
        data,
        orgid,
        timestamp,
        mal_data=indicators if context == "malicious" else (),
        ben_data=indicators if context == "benign" else (),
        category=category,
    )


def scalar_attribute(sub_type: str, value: object, *, where: str = "data") -> Attribute:
    """An attribute from untrusted input, with an :class:`InputError` naming ``where``."""
    if not isinstance(sub_type, str) or not sub_type.isidentifier() or sub_type.startswith("$"):
        raise InputError(f"{where}: key {sub_type!r} is not an identifier", field=where)
    if isinstance(value, (dict, list, tuple)):
        raise InputError(
            f"{where}.{sub_type}: value must be a scalar, got {type(value).__name__}",
            field=f"{where}.{sub_type}",
        )
    return Attribute(sub_type, value)  # type: ignore[arg-type]


@define
class Entries:
    """What a document of many entries (feed lines, CSV rows, records) makes, entry by entry.

    An :class:`InputError` raised inside ``with entries.entry(where):`` becomes a
    problem of that entry and the others go on; equal instances are kept once
    (sessions, whose versions the database merges, are all kept). :meth:`result`
    fails the whole document only when entries were seen and none was usable.
    """

    #: What the document is, for the failure message (``"phishtank_feed"``).
    what: str
    #: Put before every ``where`` (``"part 2 "`` for a part of a split file).
    prefix: str = ""
    #: What one entry is, for the failure message (``"line"``).
    unit: str = "entry"
    _instances: dict[object, Instance] = field(factory=dict, init=False)
    _problems: list[Problem] = field(factory=list, init=False)

    @classmethod
    def of_file(cls, what: str, data: Mapping[str, Any], unit: str = "entry") -> Entries:
        """Entries of a file stored by ``ingest --format file``: a part's entries name the part."""
        part = data.get("part")
        prefix = f"part {part} " if isinstance(part, int) and not isinstance(part, bool) else ""
        return cls(what, prefix=prefix, unit=unit)

    def problem(self, where: str, reason: str) -> None:
        self._problems.append(Problem(self.prefix + where, reason))

    def add(self, instance: Instance, where: str = "", notes: Iterable[str] = ()) -> None:
        """Keep ``instance``; ``notes`` are problems of its entry that did not stop it."""
        key: object = instance._hash
        if isinstance(instance, Session):
            key = (key, len(self._instances))
        self._instances[key] = instance
        for note in notes:
            self.problem(where, note)

    def extend(
        self, instances: Iterable[Instance], where: str, problems: Iterable[Problem] = ()
    ) -> None:
        """Keep the instances of one entry; its ``problems`` are named ``"<where>: ..."``."""
        for instance in instances:
            self.add(instance)
        for problem in problems:
            self.problem(f"{where}: {problem.where}", problem.reason)

    @contextmanager
    def entry(self, where: str) -> Iterator[None]:
        try:
            yield
        except InputError as exc:
            self.problem(where, str(exc))

    def result(self) -> FilterResult:
        """The instances and problems; :class:`InputError` when no entry was usable."""
        if not self._instances and self._problems:
            first = "; ".join(f"{p.where}: {p.reason[:200]}" for p in self._problems[:3])
            raise InputError(
                f"{self.what}: no {self.unit} could be read (none of {len(self._problems)} "
                f"is usable); first: {first}"
            )
        return FilterResult(instances=list(self._instances.values()), problems=self._problems)
