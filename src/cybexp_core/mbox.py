"""An mbox file (messages after ``From `` separator lines) split into one text per message.

``ingest --format file`` stores each message of an mbox as its own raw
document, as an ``.eml`` file would be, never the whole mailbox as one
"message". The split is the standard library's :class:`mailbox.mbox`.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["is_mbox", "mbox_messages"]

#: ``From sender date`` as mbox writers put before each message.
_FROM_LINE = re.compile(rb"From \S+ +\S.*\d\d:\d\d")


def is_mbox(sample: bytes) -> bool:
    """True when ``sample`` (the start of a file) begins with an mbox ``From `` line."""
    first = sample.split(b"\n", 1)[0]
    return bool(_FROM_LINE.match(first))


def mbox_messages(stream: BinaryIO) -> Iterator[bytes]:
    """The bytes of each message in the mbox ``stream`` (without its ``From `` line).

    The stream is copied to a temporary file first: :class:`mailbox.mbox` reads a path
    (and the stream may be decompressed on the fly or standard input).
    """
    with tempfile.NamedTemporaryFile(prefix="cybexp-mbox-", suffix=".mbox") as spool:
        shutil.copyfileobj(stream, spool)
        spool.flush()
        box = mailbox.mbox(spool.name, create=False)
        try:
            for key in box.iterkeys():
                yield box.get_bytes(key)
        finally:
            box.close()
