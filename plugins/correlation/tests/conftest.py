"""Fixtures of the correlation filter's tests: events as other filters store them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from cybexp_core import Attribute, Event, Object, Session
from cybexp_core.backend import Archive
from cybexp_core.worker import RunSummary

pytest_plugins = ["cybexp_core.testing"]


@pytest.fixture
def store(archive: Archive) -> Callable[[Iterable[Event]], None]:
    """Write events into the archive as another filter would have."""

    def write(events: Iterable[Event]) -> None:
        archive.write_instances(list(events))

    return write


@pytest.fixture
def correlate(archive: Archive) -> Callable[..., RunSummary]:
    """Run ``run --once`` with only the installed correlation filter."""

    def run(settings: dict[str, Any] | None = None) -> RunSummary:
        from cybexp_core.testing import run_pipeline  # after pytest registered the kit

        return run_pipeline(
            archive, [], filters=["correlation"], settings={"correlation": settings or {}}
        )

    return run


@pytest.fixture
def session_of(archive: Archive) -> Callable[[Attribute | Object], dict[str, Any] | None]:
    """The stored correlation session of an indicator, or None."""

    def find(indicator: Attribute | Object) -> dict[str, Any] | None:
        return archive.collection.find_one({"_hash": Session("correlation", [indicator])._hash})

    return find
