"""What every ``ingest`` reader shares: the limits, a line that was not stored, key checks."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from cybexp_core.errors import InputError

__all__ = ["MAX_CHUNK_BYTES", "MAX_CHUNK_RECORDS", "MAX_LINE_BYTES", "BadLine", "check_keys"]

#: Files larger than this are split at line (or record) boundaries into several raw documents.
MAX_CHUNK_BYTES = 4 * 1024 * 1024
#: A feed file with more lines (CSV rows, URLs) or JSON records is split too: one raw
#: document's parse stays small in memory (issue 17 item 10).
MAX_CHUNK_RECORDS = 5000
#: A JSON line larger than this is refused (MongoDB's limit is 16 MiB per document).
MAX_LINE_BYTES = 15 * 1024 * 1024
MAX_DEPTH = 90
_INT64 = (-(2**63), 2**63 - 1)


@frozen
class BadLine:
    """An input line (or record) that was not stored, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def check_keys(value: Any, where: str = "data", depth: int = 0) -> None:
    """Refuse what MongoDB would read as an operator or cannot store: keys starting with
    ``$`` or holding NUL, integers beyond 64 bits, nesting deeper than it accepts."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InputError(f"{where}: integer {value} does not fit in 64 bits")
        return
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "\x00" in key:
                raise InputError(f"{where}: key {key!r} may not start with '$' or hold NUL")
            check_keys(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_keys(item, f"{where}[{index}]", depth + 1)


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """``(text, "latin-1" or None)``: UTF-8, else latin-1 (lossless: the bytes come back)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
