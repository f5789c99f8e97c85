"""Reading a raw document in a filter: the checks every filter repeats, and ingested files.

Part of the plugin API (``docs/plugins.md``): a raw document's ``orgid`` and
``data`` checked with a message naming the filter, the text and fetch time of
a file stored by ``ingest --format file``, and the dispatch of a feed document
that holds either a whole feed file or one record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cybexp_core.declaration import FilterResult, Problem
from cybexp_core.errors import InputError
from cybexp_core.ingest import RECEIVED
from cybexp_core.models import Instance

__all__ = ["RECEIVED", "data_object", "dispatch_feed", "file_text", "file_timestamp", "orgid_of"]


def orgid_of(document: Mapping[str, Any], what: str) -> str:
    """The raw document's ``orgid``.

    :param what: The filter or input, for the message (``"cowrie"``).
    :raises InputError: If it is missing or not a string.
    """
    orgid = document.get("orgid")
    if not isinstance(orgid, str):
        raise InputError(
            f"{what}: the raw document has no orgid (a string), got {orgid!r:.60}", field="orgid"
        )
    return orgid


def data_object(
    document: Mapping[str, Any], what: str, expected: str = "an object"
) -> Mapping[str, Any]:
    """The raw document's ``data``, which must be a JSON object.

    :param what: The filter or input, for the message (``"sighting"``).
    :param expected: What ``data`` should be, for the message.
    :raises InputError: If ``data`` is not an object.
    """
    data = document.get("data")
    if type(data) is not dict and not isinstance(data, Mapping):
        raise InputError(
            f"{what}: data must be {expected}, got {type(data).__name__}", field="data"
        )
    return data


def file_text(data: Mapping[str, Any]) -> str:
    """The text of a raw document made by ``ingest --format file`` (or one part of it).

    Undoes the lossless latin-1 decoding ``ingest`` applies to files that are not
    UTF-8 (valid UTF-8 sequences come back, other bytes are replaced) and drops a BOM.

    :raises InputError: If ``data["data"]`` is missing or not text.
    """
    text = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        raise InputError("data.data must hold the file's text", field="data.data")
    if data.get("encoding") == "latin-1":
        text = text.encode("latin-1").decode("utf-8", "replace")
    return text.removeprefix("\ufeff")


def file_timestamp(data: Mapping[str, Any], what: str, received: object = None) -> float:
    """When the records of a feed file with no time of their own were seen, epoch seconds.

    ``data.timestamp`` (the fetch time ``ingest --timestamp`` stores) when it is
    there, else ``received``: pass ``document.get(RECEIVED)``, the time the
    runner says the raw document was stored (the creation time of its
    ObjectId), so a feed stored without ``--timestamp``, or inserted by
    another CYBEX-P module, still gets the same time on every run.

    :param what: What needs it, for the message (``"an OpenPhish community feed"``).
    :raises InputError: If neither is a finite number (a document run outside the runner).
    """
    value = data.get("timestamp") if isinstance(data, Mapping) else None
    if value is None:
        value = received
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InputError(
            f"{what} carries no time of its own: store it with data.timestamp (epoch seconds; "
            "`cybexp-analytics ingest --format file --timestamp EPOCH|mtime`)",
            field="data.timestamp",
        )
    if value in (float("inf"), float("-inf")):
        raise InputError("data.timestamp must be finite", field="data.timestamp")
    return float(value)


#: Reads a whole feed file: ``(data, orgid, document.get(RECEIVED)) -> result``.
TextReader = Callable[[Mapping[str, Any], str, object], FilterResult]
#: Reads one record: ``(record, orgid) -> (instance, notes on dropped fields)``.
RecordReader = Callable[[Mapping[str, Any], str], tuple[Instance, list[str]]]


def dispatch_feed(
    document: Mapping[str, Any],
    what: str,
    *,
    text: TextReader,
    record: RecordReader,
    record_keys: tuple[str, ...] = ("url",),
    text_name: str = "the feed text",
) -> FilterResult:
    """A feed document: a whole file (``ingest --format file``) or one record (``--format jsonl``).

    ``data`` holding the file's text in ``data.data`` goes to ``text`` (with the time
    the document was stored, for :func:`file_timestamp`); ``data``
    holding any of ``record_keys`` is one record and goes to ``record``, whose
    notes become problems ``"record"``.

    :param what: The raw sub_type, for the messages (``"openphish_feed"``).
    :param text_name: What ``data.data`` holds, for the message (``"the dump text"``).
    :raises InputError: If the document has no orgid or neither shape, or the record
        is unusable (the message starts with ``"<what> record: "``).
    """
    data = document.get("data")
    orgid = orgid_of(document, what)
    if isinstance(data, Mapping) and isinstance(data.get("data"), str):
        return text(data, orgid, document.get(RECEIVED))
    if isinstance(data, Mapping) and any(key in data for key in record_keys):
        try:
            instance, notes = record(data, orgid)
        except InputError as exc:
            raise InputError(f"{what} record: {exc}", field="data") from None
        return FilterResult(instances=[instance], problems=[Problem("record", n) for n in notes])
    raise InputError(
        f"{what}: data must hold {text_name} in 'data' or be one JSON record with 'url'",
        field="data",
    )
