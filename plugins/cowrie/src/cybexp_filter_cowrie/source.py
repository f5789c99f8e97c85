"""Unwrapping a raw document into Cowrie events, and running :func:`.convert` on each.

Three shapes of ``data`` are read:

- a Cowrie event (``ingest --format jsonl``, sub_type ``cowrie``);
- a Filebeat document whose ``message`` is the Cowrie event as a JSON string
  (the original deployment's sub_type ``unr_honeypot``);
- a whole Cowrie log file, ``{"data": <text>}`` (``ingest --format file``,
  possibly one part of a split file): one event per line, and a bad line is
  a problem of the document, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cybexp_core import FilterResult, InputError
from cybexp_core.builders import Entries
from cybexp_core.inputs import data_object, orgid_of
from cybexp_filter_cowrie.convert import convert
from cybexp_filter_cowrie.options import Options

__all__ = ["filter_document"]


def _loads(text: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"cowrie: {what} is not JSON: {exc}") from None


def _sensor_type(data: Mapping[str, Any]) -> str | None:
    """Filebeat's ``sensor_type`` (``["ssh"]`` or ``["telnet"]``) as a protocol hint."""
    value = data.get("sensor_type")
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0].lower()
    return None


def _utf8(line: str) -> str:
    """A line of a file ``ingest`` decoded as latin-1 (it was not all UTF-8): the line's
    own UTF-8 text when it is valid UTF-8, else the latin-1 text as it is."""
    try:
        return line.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return line


def _file_lines(data: Mapping[str, Any], orgid: str, options: Options) -> FilterResult:
    """Every line of a Cowrie log file (or part of one); bad lines become problems."""
    found = Entries.of_file("cowrie", data, unit="line")
    latin1 = data.get("encoding") == "latin-1"
    for number, line in enumerate(str(data["data"]).split("\n"), start=1):
        text = _utf8(line) if latin1 else line
        text = text.strip().lstrip("\ufeff")
        if not text:
            continue
        where = f"line {number}"
        with found.entry(where):
            event = _loads(text, found.prefix + where)
            if not isinstance(event, dict):
                raise InputError(
                    f"cowrie: {found.prefix}{where} is a JSON {type(event).__name__}, not an object"
                )
            made, skipped = convert(event, orgid, options)
            found.extend(made, where, skipped)
    return found.result()


def filter_document(document: Mapping[str, Any], options: Options) -> FilterResult:
    """The instances made from one raw document.

    :raises InputError: If the document holds no usable Cowrie event.
    """
    orgid = orgid_of(document, "cowrie")
    if isinstance(document.get("data"), str):  # as in the original, data may be the JSON text
        document = {**document, "data": _loads(document["data"], "data")}
    data = data_object(document, "cowrie", "a JSON object")
    hint = None
    if "eventid" not in data:
        message = data.get("message")
        if isinstance(message, str) and message.lstrip().startswith("{"):
            hint = _sensor_type(data)
            data = _loads(message, "Filebeat 'message'")
            if not isinstance(data, dict):
                raise InputError("cowrie: Filebeat 'message' is not a JSON object")
        elif isinstance(data.get("data"), str):
            return _file_lines(data, orgid, options)
    instances, problems = convert(data, orgid, options, hint)
    return FilterResult(instances=instances, problems=problems)
