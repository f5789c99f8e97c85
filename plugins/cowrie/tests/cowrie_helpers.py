"""Helpers of the Cowrie plugin tests: the fixture files in ``data/`` and output accessors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cybexp_core import Event, FilterResult, Raw, Session
from cybexp_core.plugins import LoadedFilter

DATA = Path(__file__).parent / "data"
#: One small log per Cowrie era, written after the real logs in shared/corpus/cowrie.
ERA_FILES = sorted(DATA.glob("era_*.jsonl"))
GOLDEN_FILE = DATA / "cybexp_golden.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def era_events() -> list[tuple[str, dict[str, Any]]]:
    """``(file:line, event)`` for every line of every era fixture."""
    return [
        (f"{path.name}:{number}", event)
        for path in ERA_FILES
        for number, event in enumerate(read_jsonl(path), start=1)
    ]


def golden_messages() -> list[dict[str, Any]]:
    """The Filebeat documents (``data`` of ``unr_honeypot`` raws) of the original's test data."""
    return read_jsonl(GOLDEN_FILE)


def bad_cases() -> dict[str, list[dict[str, Any]]]:
    return json.loads((DATA / "bad_events.json").read_text())


class Run:
    """Call the loaded plugin on one Cowrie event or Filebeat document."""

    def __init__(self, loaded: LoadedFilter) -> None:
        self.loaded = loaded

    def __call__(
        self, data: Mapping[str, Any], sub_type: str = "cowrie", orgid: str = "test_org"
    ) -> FilterResult:
        result = self.loaded.run(Raw(sub_type, dict(data), orgid).doc)
        assert result is not None
        return result


def events_of(result: FilterResult) -> list[Event]:
    return [item for item in result.instances if isinstance(item, Event)]


def the_event(result: FilterResult) -> Event:
    (event,) = events_of(result)
    return event


def sessions_of(result: FilterResult) -> list[Session]:
    return [item for item in result.instances if isinstance(item, Session)]


def the_session(result: FilterResult) -> Session:
    (session,) = sessions_of(result)
    return session


def child(event: Event | Any, sub_type: str) -> Any:
    """The only child of ``event`` (an Event or Object) with ``sub_type``."""
    (found,) = [item for item in event.children if item.sub_type == sub_type]
    return found


def children(event: Event | Any, sub_type: str) -> list[Any]:
    return [item for item in event.children if item.sub_type == sub_type]
