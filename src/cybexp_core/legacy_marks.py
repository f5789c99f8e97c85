"""The original analytics module's per-document marks: read them, and write them on request.

The original (and this project before checkpoints, see ``leases.py``) kept
its progress on the documents it read:

``filters``
    ids of the filters that processed the document.
``_ref`` (raw documents only)
    hashes of the instances made from it, at most :data:`MAX_RAW_REFS`;
    beyond that ``_ref_truncated`` holds the full count.
``_failed.<filter id>``
    why the filter failed on it; ``final_for`` is the filter version that gave up.
``_problems.<filter id>``
    parts of the input a filter skipped, with reasons.

They are read so documents an older module marked are not processed again
(other writers own those documents, so a field of the wrong type counts as
absent), and written only with ``runner.write_marks`` for readers that need
them: each mark is an update of the raw document, two thirds of the server's
work in the benchmark of issue 14.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cybexp_core.models import Instance, flatten

__all__ = [
    "MAX_RAW_REFS",
    "as_marked",
    "comparable",
    "legacy_failure",
    "legacy_failures",
    "legacy_state",
    "listed_refs",
    "mark_update",
    "strip",
    "unmarked",
]

#: Most hashes kept in a raw document's ``_ref`` (about 4.5 MB of BSON).
MAX_RAW_REFS = 60_000
FILTERS = "filters"
REF = "_ref"
REF_TRUNCATED = "_ref_truncated"
FAILED = "_failed"
PROBLEMS = "_problems"


def _is_mapping(value: object) -> bool:
    """``isinstance(value, Mapping)``, answered without the ABC check for the usual values
    (a decoded document's dict, an absent mark): it runs for every claimed document."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def unmarked(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` carries none of the marks (the usual case since checkpoints): four
    key lookups, so opening a claimed document skips the reading of each mark."""
    return FILTERS not in doc and FAILED not in doc and PROBLEMS not in doc and REF not in doc


def legacy_failures(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Every filter's failure record marked on ``doc``, by filter id."""
    failed = doc.get(FAILED)
    return dict(failed) if _is_mapping(failed) else {}


def legacy_failure(doc: Mapping[str, Any], fid: str) -> dict[str, Any]:
    """Filter ``fid``'s failure record marked on ``doc`` (empty when none, or malformed)."""
    failed = doc.get(FAILED)
    if failed is None:
        return {}
    record = failed.get(fid) if _is_mapping(failed) else None
    return dict(record) if _is_mapping(record) else {}


def legacy_state(doc: Mapping[str, Any], fid: str, version: str) -> str | None:
    """``"done"`` when ``doc`` is marked processed by ``fid``, ``"failed"`` when marked
    given up on by this ``version``, else ``None``."""
    filters = doc.get(FILTERS)
    if isinstance(filters, list) and fid in filters:
        return "done"
    if legacy_failure(doc, fid).get("final_for") == version:
        return "failed"
    return None


def strip(doc: dict[str, Any]) -> None:
    """Take the failure and problem marks out of ``doc`` before a filter sees it (in place).
    ``filters`` and ``_ref`` stay: filters must give the same output with them."""
    doc.pop(FAILED, None)
    doc.pop(PROBLEMS, None)


def _raw_refs(instances: Sequence[Instance], listed: set[str], room: int) -> tuple[list[str], int]:
    refs = dict.fromkeys(inst._hash for inst in instances)
    for inst in flatten(instances):
        refs[inst._hash] = None
    values = [value for value in refs if value not in listed]
    return values[: max(room, 0)], len(values)


def mark_update(
    fid: str,
    *,
    raw: bool,
    listed: Sequence[str],
    failure: Mapping[str, Any] | None = None,
    instances: Sequence[Instance] = (),
    problems: Mapping[str, Any] | None = None,
    had_failed: bool = False,
) -> dict[str, Any]:
    """The original's update of an input document: ``failure`` recorded, or processed
    into ``instances`` (with ``problems``, as stored in ``cybexp_problems``)."""
    if failure is not None:
        return {"$set": {f"{FAILED}.{fid}": dict(failure)}}
    update: dict[str, Any] = {"$addToSet": {FILTERS: fid}}
    if had_failed:
        update["$unset"] = {f"{FAILED}.{fid}": ""}
    if raw and instances:
        # $push of the hashes not listed yet: $addToSet with a long $each is
        # quadratic on some servers.
        refs, total = _raw_refs(instances, set(listed), MAX_RAW_REFS - len(listed))
        if refs:
            update["$push"] = {REF: {"$each": refs}}
        if total > len(refs):
            update["$set"] = {REF_TRUNCATED: total}
    if problems:
        update.setdefault("$set", {})[f"{PROBLEMS}.{fid}"] = dict(problems)
    return update


def as_marked(doc: Mapping[str, Any], fid: str, instances: Sequence[Instance]) -> dict[str, Any]:
    """A copy of ``doc`` as the original stored it once filter ``fid`` processed it into
    ``instances`` (filters must give the same output when offered it again)."""
    stored = {**doc, FILTERS: [fid]}
    if doc.get("itype") == "raw":
        outputs = [*instances, *flatten(instances)]
        stored[REF] = list(dict.fromkeys(i._hash for i in outputs))
    return stored


def listed_refs(doc: Mapping[str, Any]) -> list[str]:
    """The hashes in a raw document's ``_ref`` (none when it is not a list of them)."""
    refs = doc.get(REF)
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` comparable across runs (in place): failure times dropped, ``filters`` sorted."""
    for record in legacy_failures(doc).values():
        if isinstance(record, dict):
            record.pop("time", None)
    if isinstance(doc.get(FILTERS), list):
        doc[FILTERS] = sorted(doc[FILTERS])
    return doc
