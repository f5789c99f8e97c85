"""Exponential back-off with jitter, kept per filter so one filter never delays another."""

from __future__ import annotations

import random
from collections.abc import Callable

from attrs import define, field

__all__ = ["Backoff", "delay"]


def delay(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 3600.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before attempt ``attempt`` (1, 2, ...): ``base * 2**(n-1)`` plus up to
    one ``base`` of jitter, never more than ``cap``."""
    if attempt <= 0:
        return 0.0
    exponent = min(attempt - 1, 64)
    return float(min(cap, base * (2**exponent) + base * rand()))


@define
class Backoff:
    """When a filter should run next. Failures and idleness have separate caps.

    ``idle`` (no new data) is not failure: it grows to ``idle_cap`` only.
    ``failed`` (errors) grows to ``failure_cap`` (3600 s by default). Work
    done resets both.
    """

    failure_cap: float = 3600.0
    idle_cap: float = 30.0
    failures: int = field(default=0, init=False)
    idles: int = field(default=0, init=False)

    def worked(self) -> float:
        self.failures = self.idles = 0
        return 0.0

    def idle(self) -> float:
        self.idles += 1
        return delay(self.idles, cap=self.idle_cap)

    def failed(self) -> float:
        self.failures += 1
        return delay(self.failures, cap=self.failure_cap)
