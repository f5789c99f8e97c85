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
from cybexp_core import Raw, Session
from cybexp_core.backend import Archive
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


def _write_one_by_one(archive: Archive, instances: list[Any]) -> None:
    coll = archive.collection
    for instance in flatten(instances):
        if coll.find_one({"_hash": instance._hash}) is None:
            coll.insert_one(instance.doc)
            continue
        if not isinstance(instance, Session):
            continue
        update: dict[str, Any] = {"$addToSet": {"_ref": {"$each": instance.doc["_ref"]}}}
        for name, op in (("start_time", "$min"), ("end_time", "$max"), ("duration", "$max")):
            value = getattr(instance, name)
            if value is not None:
                update.setdefault(op, {})[name] = value
        coll.update_one({"_hash": instance._hash}, update)


def _reference_run(archive: Archive, filters: list[LoadedFilter]) -> None:
    """Every filter over every document it consumes, until nothing new is made."""
    coll = archive.collection
    while True:
        done = 0
        for flt in filters:
            fid = flt.info.id
            pending = [
                doc
                for consumes in flt.info.consumes
                for doc in coll.find(Archive.pending_query(fid, flt.info.version, consumes))
            ]
            for doc in pending:
                _id = doc.pop("_id")
                result = flt.run(doc)
                mark: dict[str, Any] = {"$addToSet": {"filters": fid}}
                if result is not None:
                    if result.problems:
                        first = [{"where": p.where, "reason": p.reason} for p in result.problems]
                        mark["$set"] = {f"_problems.{fid}": {"count": len(first), "first": first}}
                    _write_one_by_one(archive, list(result.instances))
                    if doc["itype"] == "raw" and result.instances:
                        refs = dict.fromkeys(i._hash for i in result.instances)
                        refs.update(dict.fromkeys(i._hash for i in flatten(result.instances)))
                        mark["$push"] = {"_ref": {"$each": list(refs)}}
                coll.update_one({"_id": _id}, mark)
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
