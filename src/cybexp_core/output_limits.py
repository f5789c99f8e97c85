"""What one input document may produce, checked before anything is written.

A filter's result is bounded twice, so that a failed document never leaves
part of its output stored:

* **count**: at most ``runner.max_outputs`` instances (each output with its
  descendants, repeats counted) per input document. Outputs are kept in the
  filter's order while they fit; the rest is reported as one problem. When
  not even the first output fits, the document fails with
  :class:`OutputTooLarge`.
* **size**: a document over MongoDB's 16 MB limit cannot be stored, so the
  input fails with :class:`OutputTooLarge`. The BSON size is measured only for
  results or inputs large enough to come near it (more than
  :data:`SIZE_CHECK_INSTANCES` instances, or an input whose canonical JSON is
  over :data:`SIZE_CHECK_INPUT` characters): a small input cannot make a 16 MB
  document, and measuring every output would cost more than writing it.
"""

from __future__ import annotations

from collections.abc import Sequence

import bson

from cybexp_core.declaration import Problem
from cybexp_core.errors import InputError
from cybexp_core.models import Instance, _Composite, flatten

__all__ = ["MAX_BSON_SIZE", "OutputTooLarge", "bound_outputs", "output_count"]

#: MongoDB's document limit, less room for the ``_id`` the driver adds.
MAX_BSON_SIZE = 16 * 1024 * 1024 - 1024
#: Results with more instances than this have every document's size measured.
SIZE_CHECK_INSTANCES = 1_000
#: Inputs whose canonical JSON is longer than this have their outputs' sizes measured.
SIZE_CHECK_INPUT = 1_000_000


class OutputTooLarge(InputError):
    """The document's output cannot be stored: over ``runner.max_outputs`` or 16 MB."""


def output_count(instance: Instance) -> int:
    """The instance and its descendants (``_ref`` lists every descendant's hash)."""
    if isinstance(instance, _Composite):
        return 1 + len(instance._ref)
    return 1


def bound_outputs(
    instances: Sequence[Instance], limit: int, *, input_size: int = 0
) -> tuple[Sequence[Instance], list[Problem]]:
    """The outputs to store, within ``limit`` instances, and problems for those left out.

    :raises OutputTooLarge: when the first output alone is over ``limit``, or any
        output document is too large for MongoDB.
    """
    total = 0
    kept = len(instances)
    for number, instance in enumerate(instances):
        count = output_count(instance)
        if total + count > limit:
            kept = number
            break
        total += count
    if kept == 0 and instances:
        raise OutputTooLarge(
            f"the first output alone has {output_count(instances[0])} instances, more than "
            f"runner.max_outputs ({limit}); nothing was stored"
        )
    chosen = instances[:kept]
    if total > SIZE_CHECK_INSTANCES or input_size > SIZE_CHECK_INPUT:
        _check_sizes(chosen)
    if kept == len(instances):
        return instances, []
    left = len(instances) - kept
    reason = (
        f"output limit: {left} of {len(instances)} outputs not stored "
        f"(runner.max_outputs = {limit} instances per document)"
    )
    return chosen, [Problem("output", reason)]


def _check_sizes(instances: Sequence[Instance]) -> None:
    for instance in flatten(instances):
        size = len(bson.encode(instance.doc))
        if size > MAX_BSON_SIZE:
            raise OutputTooLarge(
                f"a {instance.itype} {instance.sub_type!r} output is {size} bytes of BSON, "
                f"over MongoDB's 16 MB limit; nothing was stored",
                field="data",
            )
