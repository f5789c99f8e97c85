"""What ``cybexp-analytics ingest`` does, and what it tells the user before storing anything.

- A ``--sub-type`` that no loaded filter reads: a warning naming the sub_types that are
  read (the documents are stored: a filter installed later reads them).
- ``--format jsonl`` on a file that is obviously not JSON lines (an email, a
  pretty-printed JSON document, a CSV or URL list): refused, saying which ``--format``
  to use, unless ``--force``.
- The first documents (5, or all when fewer, at least 3) all fail with every filter that
  reads the sub_type (``--sub-type email`` on JSON lines): refused with the filter's reason,
  unless ``--force``; one or two documents that fail are stored with a warning.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
import orjson

from cybexp_core.backend import Archive
from cybexp_core.errors import InputError
from cybexp_core.filesplit import read_file
from cybexp_core.ingest import RECEIVED, read_json, read_jsonl
from cybexp_core.input_streams import DECOMPRESS_ERRORS, STDIN, open_input
from cybexp_core.models import Raw
from cybexp_core.plugins import LoadedFilter
from cybexp_core.rawinput import BadLine

__all__ = ["IngestOptions", "ingest_paths"]

BATCH = 1000
#: The first documents tried with the filters that read them, before anything is stored.
SAMPLE = 5
#: Input is refused only when at least this many of its first documents all fail.
REFUSE_AT = 3
#: Standard input (a live log piped in) is stored at least this often, not per 1,000 lines.
LIVE_FLUSH_SECONDS = 1.0
_HEADER = re.compile(r"^(From |[A-Za-z][\w-]*:)")
_MAIL_HEADERS = ("from:", "received:", "subject:", "message-id:", "return-path:", "to:", "date:")


class IngestOptions:
    """The command line of one ``ingest``."""

    def __init__(
        self, sub_type: str, orgid: str, timezone: str, fmt: str, timestamp: str | None, force: bool
    ) -> None:
        self.sub_type, self.orgid, self.timezone = sub_type, orgid, timezone
        self.fmt, self.timestamp, self.force = fmt, timestamp, force


def _fetch_time(option: str | None, path: Path) -> float | None:
    if option is None:
        return None
    if option == "mtime":
        if str(path) == STDIN:
            raise click.BadParameter(
                "'mtime' needs a file, not standard input", param_hint="--timestamp"
            )
        return path.stat().st_mtime
    try:
        return float(option)
    except ValueError:
        raise click.BadParameter("an epoch number or 'mtime'", param_hint="--timestamp") from None


def consumers(
    filters: Sequence[LoadedFilter], sub_type: str
) -> tuple[list[LoadedFilter], set[str]]:
    """The filters that read raw documents of ``sub_type``, and every raw sub_type read."""
    readers, read = [], set()
    for flt in filters:
        for consumes in flt.info.consumes:
            if consumes.itype != "raw":
                continue
            read.add(consumes.sub_type or "*")
            if consumes.sub_type in (None, sub_type):
                readers.append(flt)
                break
    return readers, read


def format_hint(path: Path, fmt: str) -> str | None:
    """Why ``path`` is obviously not ``--format jsonl`` and which format to use, or None."""
    if fmt != "jsonl" or str(path) == STDIN:
        return None
    try:
        with open_input(path) as stream:
            head = stream.read(64 * 1024).decode("utf-8", "replace")
    except (InputError, *DECOMPRESS_ERRORS):
        return None  # reported when the file is read
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        orjson.loads(lines[0])
        return None
    except orjson.JSONDecodeError:
        pass
    first = lines[0].removeprefix("\ufeff")
    if _HEADER.match(first) and any(line.lower().startswith(_MAIL_HEADERS) for line in lines[:40]):
        return "it looks like an email message (RFC 822 headers): use --format file"
    if first in ("{", "[") or (
        first.startswith(("{", "[")) and len(lines) > 1 and lines[1][:1] in '"{[]}'
    ):
        return "it holds a pretty-printed JSON document or array: use --format json"
    if first.startswith(("{", "[")):
        return None  # a JSON line that does not parse: reported as a bad line
    return "it is a text file (CSV, URL list, log lines), not JSON lines: use --format file"


def _fails_everywhere(raw: Raw, readers: Sequence[LoadedFilter]) -> str | None:
    """Why ``raw`` fails with every filter that reads it (InputError), or None."""
    reasons = []
    for flt in readers:
        try:
            flt.run({**raw.doc, RECEIVED: time.time()})
            return None
        except InputError as exc:
            reasons.append(f"{flt.info.name}: {str(exc)[:300]}")
        except Exception:  # noqa: BLE001 - not a mismatch: the run retries and reports it
            return None
    return "; ".join(reasons)


def _check_sample(sample: Sequence[Raw], readers: Sequence[LoadedFilter], fmt: str) -> None:
    """Refuse when the first documents (3 or more) all fail with every filter that reads
    them; warn when the input holds fewer and they all fail."""
    reasons = [_fails_everywhere(raw, readers) for raw in sample]
    if not sample or not all(reasons):
        return
    advice = f"check --sub-type and --format (read as --format {fmt})"
    if len(sample) < REFUSE_AT:
        click.echo(f"warning: every document fails ({reasons[0]}): {advice}", err=True)
        return
    raise click.UsageError(
        f"the first {len(sample)} documents all fail ({reasons[0]}); nothing was stored. "
        f"Check --sub-type and --format (read as --format {fmt}), or --force to store them anyway"
    )


def _items(path: Path, options: IngestOptions) -> Iterator[Raw | BadLine]:
    if options.fmt == "jsonl":
        return read_jsonl(path, options.sub_type, options.orgid, options.timezone)
    if options.fmt == "json":
        return read_json(path, options.sub_type, options.orgid, options.timezone)
    fetched = _fetch_time(options.timestamp, path)
    return read_file(path, options.sub_type, options.orgid, options.timezone, timestamp=fetched)


def ingest_paths(
    archive: Archive, filters: Sequence[LoadedFilter], paths: Sequence[Path], options: IngestOptions
) -> int:
    """Store the raw documents of ``paths``; print what happened; the exit code."""
    if options.timestamp is not None and options.fmt != "file":
        raise click.UsageError(
            "--timestamp is for --format file (feed files whose lines carry no time); "
            f"with --format {options.fmt} each record keeps its own time"
        )
    readers, read = consumers(filters, options.sub_type)
    if not readers:
        click.echo(
            f"warning: no loaded filter reads raw sub_type {options.sub_type!r}: the documents "
            "are stored but nothing will process them until such a filter is installed. "
            f"Sub_types read: {', '.join(sorted(read)) or 'none (no filter loaded)'}",
            err=True,
        )
    if not options.force:
        for path in paths:
            hint = format_hint(path, options.fmt)
            if hint:
                raise click.UsageError(f"{path}: {hint} (or --force to store it as JSON lines)")
    inserted = existing = errors = 0
    bad: list[BadLine] = []
    batch: list[Raw] = []
    checked = options.force or not readers
    flushed = time.monotonic()
    for path in paths:
        try:
            for item in _items(path, options):
                if isinstance(item, BadLine):
                    bad.append(item)
                    click.echo(f"bad line: {item}", err=True)
                    continue
                batch.append(item)
                if not checked and len(batch) >= SAMPLE:
                    _check_sample(batch, readers, options.fmt)
                    checked = True
                live = str(path) == STDIN and time.monotonic() - flushed >= LIVE_FLUSH_SECONDS
                if checked and (len(batch) >= BATCH or live):
                    new, old = archive.insert_raw(batch)
                    inserted, existing, batch = inserted + new, existing + old, []
                    flushed = time.monotonic()
        except InputError as exc:
            errors += 1
            click.echo(f"error: {exc}", err=True)
    if not checked:
        _check_sample(batch, readers, options.fmt)
    new, old = archive.insert_raw(batch)
    inserted, existing = inserted + new, existing + old
    click.echo(
        f"stored {inserted} raw documents ({existing} already stored) "
        f"from {len(paths)} files; {len(bad)} bad lines"
        + (f"; {errors} files not read" if errors else "")
    )
    return 1 if bad or errors else 0
