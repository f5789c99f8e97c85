"""The plugin's cached, shared instances are the ones the public constructors build.

The filter builds its instances through caches (attributes, objects, session
identities and derivations shared between events). Every instance it returns
for the era fixtures and the golden documents must be, document for document
and hash for hash, what ``Attribute``/``Object``/``Event``/``Session`` build from
its stored fields alone, as new objects that share nothing with those caches.
"""

from __future__ import annotations

from typing import Any

import bson
from cowrie_helpers import Run, era_events, golden_messages

from cybexp_core import Event, Session
from cybexp_core.documents import rebuild_children
from cybexp_core.models import Instance, flatten


def _rebuilt(instance: Instance) -> Instance:
    """``instance`` built again from its own ``doc`` with the public constructors."""
    doc: dict[str, Any] = instance.doc
    if isinstance(instance, Event):
        children = rebuild_children(doc["data"])
        known = {child._hash: child for child in flatten(children)}
        return Event(
            doc["sub_type"],
            children,
            doc["orgid"],
            doc["timestamp"],
            mal_data=[known[h] for h in doc["_mal_ref"]],
            ben_data=[known[h] for h in doc["_ben_ref"]],
            category=doc["category"],
        )
    assert isinstance(instance, Session)
    return Session(
        doc["sub_type"],
        rebuild_children(doc["data"]),
        events=instance.events,
        start_time=doc.get("start_time"),
        end_time=doc.get("end_time"),
        duration=doc.get("duration"),
    )


def _stored(instance: Instance) -> dict[str, bytes]:
    return {item._hash: bson.encode(item.doc) for item in flatten([instance])}


def test_every_output_is_what_the_constructors_build(run: Run) -> None:
    inputs = [(event, "cowrie") for _, event in era_events()]
    inputs += [(doc, "unr_honeypot") for doc in golden_messages()]
    checked = 0
    for data, sub_type in inputs * 2:  # the second time, every cache is warm
        for instance in run(data, sub_type).instances:
            rebuilt = _rebuilt(instance)
            assert rebuilt._hash == instance._hash
            assert bson.encode(rebuilt.doc) == bson.encode(instance.doc)
            assert _stored(instance) == _stored(rebuilt)  # every descendant too
            checked += 1
    assert checked > 2 * len(inputs)
