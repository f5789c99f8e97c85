"""Test kit for filter plugins: an opt-in pytest plugin.

Enable it in a ``conftest.py``::

    pytest_plugins = ["cybexp_core.testing"]

Fixtures: ``mongo_uri`` (a live server: ``$MONGO_URI`` or a SecantusDB child
process on a free loopback port), ``archive`` (an :class:`Archive` on a fresh
database, dropped afterwards) and ``plugin_manager`` (a fresh, empty plugin
manager). Helpers: :func:`load_filter`, :func:`run_filter`, :func:`make_raw`,
:func:`run_pipeline`, :func:`assert_golden`, :func:`assert_idempotent`
and :func:`assert_filter_contract`, the one-line contract check every plugin
should run. See ``docs/plugins.md``.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy
import pytest

from cybexp_core import bookkeeping, legacy_marks
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.declaration import FilterInfo, FilterResult
from cybexp_core.errors import InputError
from cybexp_core.hookspecs import ENTRY_POINT_GROUP
from cybexp_core.models import Attribute, Event, Instance, Object, Raw, Session, flatten
from cybexp_core.plugins import LoadedFilter, load_filters, new_plugin_manager
from cybexp_core.server import LocalServer
from cybexp_core.worker import Runner, RunSummary

__all__ = [
    "assert_filter_contract",
    "assert_golden",
    "assert_idempotent",
    "load_filter",
    "make_raw",
    "run_filter",
    "run_pipeline",
    "snapshot",
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


def _fresh_archive(mongo_uri: str) -> Iterator[Archive]:
    name = f"cybexp_test_{uuid.uuid4().hex[:12]}"
    archive = Archive.connect(Settings(mongo_url=mongo_uri, db=name))
    archive.ensure_indexes()
    try:
        yield archive
    finally:
        archive.collection.database.client.drop_database(name)
        archive.close()


@pytest.fixture
def archive(mongo_uri: str) -> Iterator[Archive]:
    """An :class:`Archive` on a fresh database with its indexes; dropped after the test."""
    yield from _fresh_archive(mongo_uri)


@pytest.fixture
def other_archive(mongo_uri: str) -> Iterator[Archive]:
    """Another fresh database on the same server, to compare two runs with ``snapshot``."""
    yield from _fresh_archive(mongo_uri)


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
    archive.ensure_indexes()
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


def _as_doc(document: Mapping[str, Any] | Raw) -> dict[str, Any]:
    """A private JSON copy, as the runner reads it from the database."""
    doc = document.doc if isinstance(document, Raw) else dict(document)
    return json.loads(json.dumps(doc, default=str))


def _signature(result: FilterResult | None) -> Any:
    if result is None:
        return None
    return [i._hash for i in result.instances], [(p.where, p.reason) for p in result.problems]


def assert_filter_contract(
    name: str,
    documents: Iterable[Mapping[str, Any] | Raw],
    bad_documents: Iterable[Mapping[str, Any] | Raw] = (),
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Check the filter plugin ``name`` keeps the hook contract, through its entry point.

    - it loads from its installed entry point and declares id, name, version
      and at least one input, the same at every load;
    - each of ``documents`` is one the runner would offer it (its declared
      inputs), gives the same instances and problems twice, also when given
      again after its output was stored (with ``filters`` and ``_ref`` set, as
      after a crash before the mark), and is not modified by the filter;
    - every output validates and hashes correctly;
    - each of ``bad_documents`` raises :class:`InputError` with a message, not
      another exception.
    """
    loaded = load_filter(name, settings)
    info = loaded.info
    assert isinstance(info, FilterInfo)
    assert info.id and info.version and info.consumes, f"{name}: incomplete declaration"
    assert load_filter(name, settings).info == info, f"{name}: filter_info() is not stable"
    for document in documents:
        doc = _as_doc(document)
        label = doc.get("_hash") or doc.get("sub_type")
        assert bookkeeping.offered(doc, info.consumes), (
            f"{name}: document {label} ({doc.get('itype')}/{doc.get('sub_type')}) is not one of "
            f"the inputs it declares, so the runner would never offer it"
        )
        given = copy.deepcopy(doc)
        first = loaded.run(given)
        assert given == doc, f"{name}: filter() modified its input document {label}"
        expected = _signature(first)
        assert _signature(loaded.run(_as_doc(doc))) == expected, (
            f"{name}: output is not deterministic for {label}"
        )
        if first is not None:
            stored = legacy_marks.as_marked(doc, info.id, first.instances)
            assert _signature(loaded.run(stored)) == expected, (
                f"{name}: output changes when {label} is processed again (idempotence)"
            )
            for instance in flatten(first.instances):
                _check_instance(instance)
    for document in bad_documents:
        doc = _as_doc(document)
        label = doc.get("_hash") or doc.get("sub_type")
        try:
            loaded.run(doc)
        except InputError as exc:
            assert str(exc).strip(), f"{name}: InputError without a message for {label}"
            continue
        except Exception as exc:
            raise AssertionError(
                f"{name}: bad input raised {type(exc).__name__}: {exc}; expected InputError"
            ) from exc
        raise AssertionError(f"{name}: bad input {label} did not raise InputError")


def snapshot(archive: Archive) -> dict[str, dict[str, Any]]:
    """The whole collection by ``_hash``, without ids, leases and failure times.

    Arrays whose order MongoDB does not define (``_ref``, ``_cref``, ``_from``, ``filters``)
    are sorted, so two runs that should agree compare equal with ``==``.
    """
    result = {}
    for doc in archive.collection.find({}, {"_id": 0, "_lease": 0}):
        for key in ("_ref", "_cref", "_from"):
            if isinstance(doc.get(key), list):
                doc[key] = sorted(doc[key])
        result[doc["_hash"]] = legacy_marks.comparable(doc)
    return result


def assert_idempotent(
    archive: Archive,
    name: str,
    documents: Iterable[Raw | Mapping[str, Any]],
    settings: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Run the installed filter ``name`` over ``documents``; check that running again is harmless.

    After a first :func:`run_pipeline` (which stores ``documents``), a second
    one must find no work and change nothing; then, with the filter's marks
    removed (as after a crash between writing the outputs and marking the
    inputs), reprocessing must add no instance and leave every document as it
    was. Returns the summary of the first run.
    """
    docs = list(documents)
    all_settings = {name: dict(settings or {})}
    first = run_pipeline(archive, docs, filters=[name], settings=all_settings)
    before = snapshot(archive)
    again = run_pipeline(archive, docs, filters=[name], settings=all_settings)
    assert again.filters[name].handled == 0, f"{name}: a second run found work again"
    assert snapshot(archive) == before, f"{name}: a second run changed the database"
    fid = load_filter(name, settings).info.id
    forgotten = archive.forget_done(fid, load_filter(name, settings).info.consumes)
    fresh = Archive(archive.collection)  # no memory of the hashes written by the first run
    redo = run_pipeline(fresh, [], filters=[name], settings=all_settings)
    stats = redo.filters[name]
    assert stats.processed + stats.skipped == forgotten, (
        f"{name}: reprocessing handled {stats.handled} documents, expected {forgotten}"
    )
    assert stats.inserted == 0, f"{name}: reprocessing added {stats.inserted} new instances"
    assert snapshot(archive) == before, f"{name}: reprocessing changed the database"
    return first
