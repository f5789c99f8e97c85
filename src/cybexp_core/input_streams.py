"""Opening what ``ingest`` is given: a file, compressed or not, or standard input (``-``).

Compression is told by the file's first bytes (its magic number), not its name,
so ``online-valid.csv.bz2``, a ``.gz`` renamed ``.json`` and a piped
``zcat``-less download all read the same. A file that is neither text nor a
known compression is refused with one clear :class:`InputError`.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cybexp_core.errors import InputError

__all__ = ["DECOMPRESS_ERRORS", "STDIN", "open_input"]

#: The path that means standard input.
STDIN = "-"
#: Bytes looked at to tell the compression and whether the content is text.
SNIFF_BYTES = 8192

_DECOMPRESSORS = {
    b"\x1f\x8b": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw)),
    b"BZh": ("bzip2", bz2.BZ2File),
    b"\xfd7zXZ\x00": ("xz", lzma.LZMAFile),
}
#: What reading a damaged or truncated compressed stream raises.
DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError)
#: Formats recognised only to say what to do with them.
_REFUSED = {
    b"PK\x03\x04": "a zip archive: unzip it and ingest the files inside",
    b"(\xb5/\xfd": "zstd-compressed: decompress it first (unzstd)",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive: extract it first",
    b"\xff\xfe": "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)",
    b"\xfe\xff": "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)",
}


def _peek(stream: BinaryIO) -> bytes:
    return stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]


def _looks_binary(sample: bytes) -> bool:
    """NUL in the first line, or in most lines of the sample: not text.

    A trailing run of NUL bytes (a sensor that died mid-write) spoils one line, not the file.
    """
    if not sample:
        return False
    lines = sample.split(b"\n")
    if b"\x00" in lines[0][:1024] and lines[0].strip(b"\x00"):
        return True
    with_nul = sum(b"\x00" in line for line in lines[:-1])
    return len(lines) > 2 and with_nul * 2 > len(lines) - 1


def _check_text(sample: bytes, name: str, compression: str | None) -> None:
    for magic, hint in _REFUSED.items():
        if sample.startswith(magic):
            raise InputError(f"{name}: {hint}")
    if _looks_binary(sample):
        inside = f" inside the {compression} file" if compression else ""
        raise InputError(
            f"{name}: the content{inside} is not text (binary data; "
            "ingest reads text, gzip, bzip2 and xz files)"
        )


@contextmanager
def open_input(path: Path | str) -> Iterator[BinaryIO]:
    """A binary stream of the decompressed content of ``path`` (``-``: standard input).

    :raises InputError: If the file is not text, or compressed in a way not read.
    """
    name = str(path)
    raw: BinaryIO
    if name == STDIN:
        raw = sys.stdin.buffer
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw)  # type: ignore[arg-type]
        name = "standard input"
    else:
        raw = Path(path).open("rb")  # noqa: SIM115 - closed below, after the caller is done
    try:
        sample = _peek(raw)
        for magic, (kind, opener) in _DECOMPRESSORS.items():
            if sample.startswith(magic):
                stream = io.BufferedReader(opener(raw))  # type: ignore[arg-type]
                try:
                    inner = _peek(stream)
                except DECOMPRESS_ERRORS as exc:
                    raise InputError(f"{name}: damaged {kind} file: {exc}") from None
                _check_text(inner, name, kind)
                yield stream
                return
        _check_text(sample, name, None)
        yield raw
    finally:
        if name != "standard input":
            raw.close()
