"""The cyclic garbage collector held off while the runner works on one batch.

A batch allocates a few hundred thousand objects (decoded documents, instances,
output documents), nearly all freed by reference counting when the batch ends.
The collector counts them as they are made: it ran ~800 times per 17,000 Cowrie
documents, scanning the batch in hand and, in its full collections, every
object the process holds (plugins' caches included), ~30 us of CPU per raw
document. Paused for a batch, it runs once the batch is over, on what is left;
the cyclic garbage it frees later is at most one batch's.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold automatic garbage collection off for the ``with`` block; nested blocks and a
    collector already off (``gc.disable()`` by the caller) are left as they are."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
