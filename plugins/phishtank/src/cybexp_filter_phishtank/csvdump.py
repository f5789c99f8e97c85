"""PhishTank's CSV dump (``online-valid.csv``), read line by line.

Each physical line is parsed on its own, so an unterminated quote spoils one
row, not the rest of the file (PhishTank fields never span lines).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from cybexp_core import InputError

#: Columns a row needs; the others (verified, phish_detail_url, online, ...) are optional:
#: the 4-column variant is ``phish_id,url,phish_detail_url,submission_time``.
REQUIRED = ("phish_id", "url", "submission_time")


def is_header(line: str) -> bool:
    """True when ``line`` looks like a PhishTank CSV header."""
    return "phish_id" in line.lower() and "," in line


def columns(header: str) -> list[str]:
    """The column names of ``header``.

    :raises InputError: If a required column is missing.
    """
    try:
        names = [name.strip().lower() for name in next(csv.reader([header.strip()]))]
    except (csv.Error, StopIteration) as exc:
        raise InputError(f"phishtank_feed: unreadable CSV header: {exc}") from None
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InputError(f"phishtank_feed: the CSV header lacks {', '.join(missing)}")
    return names


def csv_rows(lines: list[str], header: str) -> Iterator[tuple[int, dict[str, str] | InputError]]:
    """``(line number, row as a dict or the reason it is unusable)`` for each data line.

    Blank lines and copies of the header (concatenated dumps) are skipped.

    :raises InputError: If the header lacks a required column.
    """
    names = columns(header)
    width = len(names)
    header = header.strip()
    for number, line in enumerate(lines, start=1):
        text = line.strip().removeprefix("\ufeff")
        if not text or text == header:
            continue
        row, problem = _row(line.rstrip("\r"), width)
        if row is None:
            yield number, InputError(f"CSV: {problem}")
            continue
        if len(row) != width:
            hint = "missing column?" if len(row) < width else "extra column or unquoted comma?"
            yield number, InputError(f"{len(row)} columns, expected {width} ({hint})")
            continue
        yield number, dict(zip(names, row, strict=True))


def _parse(line: str, **dialect: object) -> list[str] | str:
    try:
        return next(csv.reader([line], strict=True, **dialect))  # type: ignore[arg-type]
    except csv.Error as exc:
        return "unterminated quote" if "end of data" in str(exc) else str(exc)


def _row(line: str, width: int) -> tuple[list[str] | None, str]:
    """The fields of one line: RFC 4180 quoting (``""`` inside quotes, today's dumps), else
    the backslash escapes of older dumps (PHP's ``fputcsv``: ``\\"`` inside quotes, 2012)."""
    row = _parse(line)
    if isinstance(row, list) and len(row) == width:
        return row, ""
    if "\\" in line:
        old = _parse(line, escapechar="\\", doublequote=True)
        if isinstance(old, list) and len(old) == width:
            return old, ""
    return (row, "") if isinstance(row, list) else (None, row)
