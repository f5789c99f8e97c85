"""The batched runner stores exactly what the original one-instance-at-a-time path stores.

The reference here writes like CYBEX-P's original analytics module: for every raw
document, for every instance, a ``find_one`` by ``_hash`` and an ``insert_one`` if it
is missing; sessions are read, merged and written back one by one; each raw document is
marked on its own. The runner's fast path (batches, in-memory de-duplication, one
existence query per batch, unordered bulk writes, merged session upserts) must produce
the same database, document for document and hash for hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import cowrie_events
from cybexp_core import Event, Raw, Session
from cybexp_core.backend import Archive
from cybexp_core.bookkeeping import selector
from cybexp_core.config import Settings
from cybexp_core.ingest import read_file, read_jsonl
from cybexp_core.models import flatten
from cybexp_core.plugins import LoadedFilter, load_filters
from cybexp_core.testing import snapshot
from cybexp_core.worker import Runner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORG = "org-equivalence"


def _inputs() -> list[Raw]:
    raws = [Raw("cowrie", event, ORG) for event in cowrie_events(600, seed=7)]
    for path, sub_type in (("cowrie.jsonl", "cowrie"), ("sightings.jsonl", "sighting")):
        raws += [r for r in read_jsonl(EXAMPLES / path, sub_type, ORG, "UTC") if isinstance(r, Raw)]
    for path, sub_type in (
        ("phish-email.eml", "email"),
        ("openphish.txt", "openphish_feed"),
        ("phishtank.csv", "phishtank_feed"),
    ):
        raws += read_file(EXAMPLES / path, sub_type, ORG, "UTC", timestamp=1_764_000_000.0)
    return raws


def _filters() -> list[LoadedFilter]:
    return load_filters(strict=True).filters


def _write_one_by_one(archive: Archive, instances: list[Any], source: str | None) -> None:
    """Each instance with a find then an insert or update; outputs of a raw document name
    it in ``_from`` (events: the first one; sessions: every one)."""
    coll = archive.collection
    named = {i._hash for i in instances if source and isinstance(i, (Event, Session))}
    for instance in flatten(instances):
        sources = [source] if instance._hash in named else []
        if coll.find_one({"_hash": instance._hash}) is None:
            coll.insert_one({**instance.doc, **({"_from": sources} if sources else {})})
            continue
        if not isinstance(instance, Session):
            continue
        update: dict[str, Any] = {"$addToSet": {"_ref": {"$each": instance.doc["_ref"]}}}
        if sources:
            update["$addToSet"]["_from"] = {"$each": sources}
        for name, op in (("start_time", "$min"), ("end_time", "$max"), ("duration", "$max")):
            value = getattr(instance, name)
            if value is not None:
                update.setdefault(op, {})[name] = value
        coll.update_one({"_hash": instance._hash}, update)


def _reference_run(archive: Archive, filters: list[LoadedFilter]) -> None:
    """Every filter over every document it consumes, oldest first, each once, until nothing
    new is made; what was done is kept in memory, nothing is written to the inputs."""
    coll = archive.collection
    seen: set[tuple[str, Any]] = set()
    while True:
        done = 0
        for flt in filters:
            fid = flt.info.id
            pending = [
                doc
                for consumes in flt.info.consumes
                for doc in coll.find(selector(consumes)).sort("_id", 1)
                if (fid, doc["_id"]) not in seen
            ]
            for doc in pending:
                seen.add((fid, doc.pop("_id")))
                result = flt.run(doc)
                if result is not None:
                    source = doc["_hash"] if doc["itype"] == "raw" else None
                    _write_one_by_one(archive, list(result.instances), source)
                done += 1
        if not done:
            return


def test_batched_runner_stores_what_the_one_by_one_path_stores(
    archive: Archive, other_archive: Archive
) -> None:
    raws = _inputs()
    sub_types = {raw.sub_type for raw in raws}
    assert {"cowrie", "email", "openphish_feed", "phishtank_feed", "sighting"} <= sub_types
    filters = _filters()
    assert {f.info.name for f in filters} >= {"cowrie", "email", "correlation"}

    archive.insert_raw(raws)
    summary = Runner(archive, filters, Settings(mongo_url="x", batch_size=97)).run_once()
    assert summary.total().failed == 0

    other_archive.insert_raw(raws)
    _reference_run(other_archive, filters)

    fast, reference = snapshot(archive), snapshot(other_archive)
    kinds = {doc["itype"] for doc in reference.values()}
    assert kinds == {"raw", "attribute", "object", "event", "session"}
    assert len(reference) > 3 * len(raws)
    assert fast.keys() == reference.keys()
    differing = [key for key in reference if fast[key] != reference[key]]
    assert not differing, (fast[differing[0]], reference[differing[0]])
