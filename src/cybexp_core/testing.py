"""Test kit for filter plugins: an opt-in pytest plugin.

Enable it in a ``conftest.py``::

    pytest_plugins = ["cybexp_core.testing"]

Fixtures: ``mongo_uri`` (a live server: ``$MONGO_URI`` or a SecantusDB child
process on a free loopback port), ``archive`` (an :class:`Archive` on a fresh
database, dropped afterwards) and ``plugin_manager`` (a fresh, empty plugin
manager). Helpers: :func:`load_filter`, :func:`run_filter`, :func:`make_raw`,
:func:`run_pipeline`, :func:`assert_golden` and
:func:`assert_filter_contract`, the one-line contract check every plugin
should run.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy
import pytest

from cybexp_core.backend import Archive, flatten
from cybexp_core.config import Settings
from cybexp_core.declaration import FilterInfo, FilterResult
from cybexp_core.errors import InputError
from cybexp_core.hookspecs import ENTRY_POINT_GROUP
from cybexp_core.models import Attribute, Event, Instance, Object, Raw, Session
from cybexp_core.plugins import LoadedFilter, load_filters, new_plugin_manager
from cybexp_core.server import LocalServer
from cybexp_core.worker import Runner, RunSummary

__all__ = [
    "assert_filter_contract",
    "assert_golden",
    "load_filter",
    "make_raw",
    "run_filter",
    "run_pipeline",
]

#: Set to 1 to (re)write golden files instead of comparing with them.
UPDATE_GOLDEN_ENV = "CYBEXP_UPDATE_GOLDEN"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a live MongoDB-wire server for the whole test session."""
    configured = os.environ.get("MONGO_URI")
    if configured:
        yield configured
        return
    storage = tmp_path_factory.mktemp("secantus") / "data"
    server = LocalServer(storage, sync_on_commit=False).start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
def archive(mongo_uri: str) -> Iterator[Archive]:
    """An :class:`Archive` on a fresh database with its indexes; dropped after the test."""
    name = f"cybexp_test_{uuid.uuid4().hex[:12]}"
    archive = Archive.connect(Settings(mongo_url=mongo_uri, db=name))
    archive.ensure_indexes()
    try:
        yield archive
    finally:
        archive.collection.database.client.drop_database(name)
        archive.close()


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the cybexp hook specs and no plugins."""
    return new_plugin_manager()


# ---------------------------------------------------------------------------- helpers


def load_filter(name: str, settings: Mapping[str, Any] | None = None) -> LoadedFilter:
    """Load the installed entry point ``name`` of ``cybexp.filters``; raise if it is broken."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise LookupError(f"no installed filter plugin named {name!r} in {ENTRY_POINT_GROUP}")
    report = load_filters(entry_points_=found, settings={name: dict(settings or {})}, strict=True)
    return report.filters[0]


def make_raw(
    sub_type: str, data: Any, orgid: str = "test_org", timezone: str = "UTC"
) -> dict[str, Any]:
    """A raw document as the archive stores it (without ``_id``)."""
    return Raw(sub_type, data, orgid, timezone).doc


def run_filter(
    name: str, document: Mapping[str, Any] | Raw, settings: Mapping[str, Any] | None = None
) -> FilterResult | None:
    """Run the installed filter ``name`` on one document, without a database."""
    doc = document.doc if isinstance(document, Raw) else dict(document)
    return load_filter(name, settings).run(doc)


def run_pipeline(
    archive: Archive,
    raws: Iterable[Raw | Mapping[str, Any]],
    filters: Sequence[str] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    **runner_settings: Any,
) -> RunSummary:
    """Store ``raws`` and run ``run --once`` with installed filters (all, or those named)."""
    docs = [raw.doc if isinstance(raw, Raw) else dict(raw) for raw in raws]
    if docs:
        archive._insert_unordered(docs)
    group = entry_points(group=ENTRY_POINT_GROUP)
    chosen = [ep for ep in group if filters is None or ep.name in filters]
    missing = set(filters or ()) - {ep.name for ep in chosen}
    if missing:
        raise LookupError(f"filter plugins not installed: {sorted(missing)}")
    report = load_filters(entry_points_=chosen, settings=settings, strict=True)
    archive.ensure_indexes(flt.info.id for flt in report.filters)
    config = Settings(
        mongo_url="mongodb://in-test/", filters=dict(settings or {}), **runner_settings
    )
    return Runner(archive, report.filters, config).run_once()


def _golden_view(instances: Iterable[Instance]) -> list[dict[str, Any]]:
    return [instance.doc for instance in instances]


def assert_golden(result: FilterResult | None, path: str | os.PathLike[str]) -> None:
    """Compare a filter's output with a golden JSON file of documents (hashes included).

    With ``CYBEXP_UPDATE_GOLDEN=1`` the file is written instead.
    """
    target = Path(path)
    actual = _golden_view(result.instances) if result is not None else None
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        target.write_text(json.dumps(actual, indent=1, sort_keys=True, default=str) + "\n")
        return
    if not target.exists():
        pytest.fail(f"golden file {target} is missing; run with {UPDATE_GOLDEN_ENV}=1")
    expected = json.loads(target.read_text())
    assert json.loads(json.dumps(actual, default=str)) == expected, f"output differs from {target}"


def _check_instance(instance: Instance) -> None:
    """Rebuild each output from its own fields and check that the hash is the same."""
    if isinstance(instance, Attribute):
        assert Attribute(instance.sub_type, instance.data)._hash == instance._hash
    elif isinstance(instance, Object):
        assert Object(instance.sub_type, instance.children)._hash == instance._hash
    elif isinstance(instance, Event):
        rebuilt = Event(
            instance.sub_type,
            instance.children,
            instance.orgid,
            instance.timestamp,
            mal_data=instance.mal_data,
            ben_data=instance.ben_data,
            category=instance.category,
        )
        assert rebuilt._hash == instance._hash
    elif isinstance(instance, Session):
        assert Session(instance.sub_type, instance.children)._hash == instance._hash
    else:  # pragma: no cover - FilterResult.coerce already rejects other types
        raise AssertionError(f"unexpected output type {type(instance).__name__}")
    json.dumps(instance.doc)  # the document is plain JSON


def assert_filter_contract(
    name: str,
    documents: Iterable[Mapping[str, Any] | Raw],
    bad_documents: Iterable[Mapping[str, Any] | Raw] = (),
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Check the filter plugin ``name`` keeps the hook contract, through its entry point.

    - it loads from its installed entry point and declares id, name, version
      and at least one input;
    - each of ``documents`` gives the same output twice (deterministic, same
      hashes) and every output validates and hashes correctly;
    - each of ``bad_documents`` raises :class:`InputError`, not another exception.
    """
    loaded = load_filter(name, settings)
    info = loaded.info
    assert isinstance(info, FilterInfo)
    assert info.id and info.version and info.consumes, f"{name}: incomplete declaration"
    assert load_filter(name, settings).info == info, f"{name}: filter_info() is not stable"
    for document in documents:
        doc = document.doc if isinstance(document, Raw) else dict(document)
        first = loaded.run(json.loads(json.dumps(doc)))
        second = loaded.run(json.loads(json.dumps(doc)))
        hashes = None if first is None else [i._hash for i in first.instances]
        again = None if second is None else [i._hash for i in second.instances]
        assert hashes == again, f"{name}: output is not deterministic for {doc.get('_hash')}"
        if first is not None:
            for instance in flatten(first.instances):
                _check_instance(instance)
    for document in bad_documents:
        doc = document.doc if isinstance(document, Raw) else dict(document)
        try:
            loaded.run(doc)
        except InputError:
            continue
        except Exception as exc:
            raise AssertionError(
                f"{name}: bad input raised {type(exc).__name__}: {exc}; expected InputError"
            ) from exc
        raise AssertionError(f"{name}: bad input {doc.get('_hash')} did not raise InputError")
