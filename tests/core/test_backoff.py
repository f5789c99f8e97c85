"""Per-filter back-off: exponential with jitter, capped; idle is not failure."""

from __future__ import annotations

from cybexp_core.backoff import Backoff, delay


def test_delay_doubles_with_jitter_and_is_capped() -> None:
    assert delay(1, rand=lambda: 0.0) == 1.0
    assert delay(4, rand=lambda: 0.0) == 8.0
    assert 8.0 <= delay(4) <= 9.0
    assert delay(40, rand=lambda: 0.99) == 3600.0
    assert delay(0) == 0.0


def test_idle_grows_only_to_its_own_cap_and_work_resets() -> None:
    backoff = Backoff(failure_cap=3600, idle_cap=30)
    idle = [backoff.idle() for _ in range(12)]
    assert max(idle) == 30
    assert backoff.failures == 0
    assert [round(backoff.failed()) >= 1 for _ in range(3)] == [True] * 3
    assert backoff.worked() == 0.0
    assert backoff.failures == backoff.idles == 0
    assert backoff.idle() < 2.0


def test_each_filter_has_its_own_state() -> None:
    noisy, quiet = Backoff(), Backoff()
    for _ in range(10):
        noisy.failed()
    assert quiet.failed() < 2.0
