"""Stored TAHOE documents back to models: children rebuilt from ``data``, identities, descendants.

Part of the API for plugin commands (``docs/plugins.md``): a command that reads
the archive (``related``, ``threatrank``) rebuilds what it needs from the
stored documents with these, with the same hashes the filters computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from cybexp_core.errors import InvalidInstanceError
from cybexp_core.models import Attribute, Child, Object, Session, flatten

__all__ = ["flatten", "identity_refs", "rebuild_children"]


def rebuild_children(data: Mapping[str, Any]) -> list[Child]:
    """The children of a stored composite, rebuilt from its ``data`` (same hashes)."""
    children: list[Child] = []
    for key, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, Mapping):
                children.append(Object(key, rebuild_children(value)))
            else:
                children.append(Attribute(key, value))
    return children


def identity_refs(doc: Mapping[str, Any]) -> set[str]:
    """A session's identity hashes: its ``_ref`` minus its events (rebuilt from ``data``)."""
    own = set(doc.get("_cref") or ())
    data = doc.get("data")
    if isinstance(data, Mapping) and data:
        with contextlib.suppress(InvalidInstanceError):
            own |= set(Session(str(doc.get("sub_type")), rebuild_children(data))._ref)
    return own
