"""PhishTank's CSV dump (``online-valid.csv``), read line by line.

Each physical line is parsed on its own, so an unterminated quote spoils one
row, not the rest of the file (PhishTank fields never span lines).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from cybexp_core import InputError

#: Columns a row needs; the others (phish_detail_url, online, ...) are optional.
REQUIRED = ("phish_id", "url", "submission_time", "verified")


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
        try:
            row = next(csv.reader([line.rstrip("\r")], strict=True))
        except csv.Error as exc:
            reason = "unterminated quote" if "end of data" in str(exc) else str(exc)
            yield number, InputError(f"CSV: {reason}")
            continue
        if len(row) != width:
            hint = "missing column?" if len(row) < width else "extra column or unquoted comma?"
            yield number, InputError(f"{len(row)} columns, expected {width} ({hint})")
            continue
        yield number, dict(zip(names, row, strict=True))
