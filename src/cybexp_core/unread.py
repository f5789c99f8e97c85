"""Raw documents that no loaded filter reads (``status``): a mistyped ``--sub-type``, or a
feed whose filter is not installed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cybexp_core.backend import Archive
from cybexp_core.census import Pair
from cybexp_core.plugins import LoadedFilter

__all__ = ["COUNT_CAP", "unread_sub_types"]

#: Counting stops here (``"10000+"``): status stays fast on any archive.
COUNT_CAP = 10_000


def unread_sub_types(
    archive: Archive,
    filters: Sequence[LoadedFilter],
    counts: Mapping[Pair, int] | None = None,
) -> dict[str, int | str]:
    """``{sub_type: count}`` of the raw sub_types stored that no filter in ``filters`` reads,
    shown up to :data:`COUNT_CAP`.

    From the census's ``counts`` per (itype, sub_type) when given; else one ``distinct``
    on the ``(itype, sub_type, _id)`` index, then a count capped at :data:`COUNT_CAP` per
    unread sub_type only (``status --count-all``).
    """
    read: set[str | None] = {
        consumes.sub_type
        for flt in filters
        for consumes in flt.info.consumes
        if consumes.itype == "raw"
    }
    if None in read:  # a filter reads every raw document
        return {}
    unread: dict[str, int | str] = {}
    if counts is not None:
        for (itype, sub_type), count in sorted(counts.items(), key=repr):
            if itype == "raw" and isinstance(sub_type, str) and sub_type not in read and count:
                unread[sub_type] = f"{COUNT_CAP}+" if count > COUNT_CAP else count
        return dict(sorted(unread.items()))
    stored = archive.collection.distinct("sub_type", {"itype": "raw"})
    for sub_type in sorted(s for s in stored if isinstance(s, str) and s not in read):
        query = {"itype": "raw", "sub_type": sub_type}
        count = archive.collection.count_documents(query, limit=COUNT_CAP + 1)
        unread[sub_type] = f"{COUNT_CAP}+" if count > COUNT_CAP else count
    return unread
