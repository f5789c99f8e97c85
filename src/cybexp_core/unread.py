"""Raw documents that no loaded filter reads (``status``): a mistyped ``--sub-type``, or a
feed whose filter is not installed."""

from __future__ import annotations

from collections.abc import Sequence

from cybexp_core.backend import Archive
from cybexp_core.plugins import LoadedFilter

__all__ = ["COUNT_CAP", "unread_sub_types"]

#: Counting stops here (``"10000+"``): status stays fast on any archive.
COUNT_CAP = 10_000


def unread_sub_types(archive: Archive, filters: Sequence[LoadedFilter]) -> dict[str, int | str]:
    """``{sub_type: count}`` of the raw sub_types stored that no filter in ``filters`` reads.

    One ``distinct`` on the ``(itype, sub_type, _id)`` index, then a count capped at
    :data:`COUNT_CAP` per unread sub_type only.
    """
    read: set[str | None] = {
        consumes.sub_type
        for flt in filters
        for consumes in flt.info.consumes
        if consumes.itype == "raw"
    }
    if None in read:  # a filter reads every raw document
        return {}
    stored = archive.collection.distinct("sub_type", {"itype": "raw"})
    unread: dict[str, int | str] = {}
    for sub_type in sorted(s for s in stored if isinstance(s, str) and s not in read):
        query = {"itype": "raw", "sub_type": sub_type}
        count = archive.collection.count_documents(query, limit=COUNT_CAP + 1)
        unread[sub_type] = f"{COUNT_CAP}+" if count > COUNT_CAP else count
    return unread
