"""The instances one batched write stores: each distinct one once, descendants first.

Cowrie events share most of their descendants (a sensor, an address, a
credential): a batch of 1,000 events holds ~10,000 instances, descendants
counted, of which a few hundred are distinct. :func:`gather` walks them as
:func:`~cybexp_core.models.flatten` lists them (children before parents),
but does not walk again below an instance it has already gathered, or one this
process has already stored (``known``): its descendants were gathered with
it, or stored before it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable

from cybexp_core.models import Attribute, Instance, Session, _Composite

__all__ = ["Gathered", "gather"]

#: ``(distinct instances but sessions, by hash; every version of each session, by hash)``.
Gathered = tuple[dict[str, Instance], dict[str, list[Session]]]


def gather(instances: Iterable[Instance], known: Container[str] = ()) -> Gathered:
    """The distinct instances of ``instances`` and of their descendants, in
    :func:`~cybexp_core.models.flatten`'s order, and the versions of each session.

    An instance in ``known`` is listed (its hash is looked at, its document not
    written) but its descendants are not walked.
    """
    gathered: Gathered = ({}, {})
    _walk(instances, known, *gathered)
    return gathered


def _walk(
    instances: Iterable[Instance],
    known: Container[str],
    unique: dict[str, Instance],
    sessions: dict[str, list[Session]],
) -> None:
    """Add ``instances`` and their descendants to ``unique`` and ``sessions`` (a function of
    the module, not a closure: a recursive closure is a reference cycle, which would keep
    the batch's instances until the garbage collector runs)."""
    for instance in instances:
        value = instance._hash
        if isinstance(instance, Session):
            versions = sessions.get(value)
            if versions is not None:
                versions.append(instance)
                continue
            sessions[value] = [instance]
            if value not in known:
                _walk(instance.children, known, unique, sessions)
            continue
        if value in unique:
            continue
        if (
            type(instance) is not Attribute
            and isinstance(instance, _Composite)
            and value not in known
        ):
            _walk(instance.children, known, unique, sessions)
        unique[value] = instance
