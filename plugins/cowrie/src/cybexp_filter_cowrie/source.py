"""Unwrapping a raw document into Cowrie events, and running :func:`.convert` on each.

``data`` may be a Cowrie event, or hold one at one of the paths of the
``event_paths`` setting for its sub_type (as an object or a JSON string):
Filebeat's ``message`` or ``json``, a Logstash ``cowrie`` target, Wazuh's
``full_log``; fields the shipper added beside it are ignored. Or it is a whole
Cowrie log file, ``{"data": <text>}`` (``ingest --format file``, possibly one
part of a split file): one event per line, and a bad line (a truncated write,
the NUL bytes a sensor that died mid-write leaves) is a problem of the
document, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cybexp_core import FilterResult, InputError
from cybexp_core.builders import Entries
from cybexp_core.inputs import data_object, orgid_of
from cybexp_filter_cowrie.convert import convert
from cybexp_filter_cowrie.options import Options, Path

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


def _line_event(text: str, where: str) -> tuple[dict[str, Any], int]:
    """The event of one line, and how many NUL bytes before it were skipped.

    :raises InputError: ``bad line: ...`` when the line is no JSON object.
    """
    event = text.lstrip("\x00")
    skipped = len(text) - len(event)
    if not event:
        reason = f"{skipped} NUL bytes (the sensor stopped in the middle of a write)"
    elif event[0] != "{":
        reason = f"not a JSON object (it starts with {event[:20]!r})"
    else:
        try:
            parsed = orjson.loads(event)
        except orjson.JSONDecodeError as exc:
            reason = f"{'truncated' if event[-1] != '}' else 'not'} JSON ({exc})"
        else:
            if isinstance(parsed, dict):
                return parsed, skipped
            reason = f"a JSON {type(parsed).__name__}, not an object"
    raise InputError(f"cowrie: {where} is a bad line: {reason}")


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
            event, skipped_nul = _line_event(text, found.prefix + where)
            if skipped_nul:
                found.problem(where, f"{skipped_nul} NUL bytes before the event skipped")
            made, skipped = convert(event, orgid, options)
            found.extend(made, where, skipped)
    return found.result()


def _at(data: Mapping[str, Any], path: Path) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _wrapped_event(
    data: Mapping[str, Any], paths: tuple[Path, ...]
) -> tuple[Mapping[str, Any] | None, list[str]]:
    """The Cowrie event at the first of ``paths`` holding one (an object with an
    ``eventid``, or its JSON text), and why the other paths did not."""
    notes = []
    for path in paths:
        value = _at(data, path)
        name = ".".join(path) or "the top level"
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                notes.append(f"{name!r} is not JSON: {exc}")
                continue
        if isinstance(value, Mapping) and "eventid" in value:
            return value, notes
    return None, notes


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
        paths = options.paths_for(document.get("sub_type"))
        event, notes = _wrapped_event(data, paths)
        if event is None:
            if isinstance(data.get("data"), str):
                return _file_lines(data, orgid, options)
            looked = ", ".join(repr(".".join(p) or ".") for p in paths)
            raise InputError(
                f"cowrie: missing field 'eventid': no Cowrie event in data at {looked}"
                + "".join(f"; {note}" for note in notes),
                field="eventid",
            )
        hint = _sensor_type(data)
        data = event
    instances, problems = convert(data, orgid, options, hint)
    return FilterResult.of(instances, problems)
