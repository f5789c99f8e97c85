"""Signals of ``run``: stop on time, a second signal exits at once, SIGHUP is ignored.

The first SIGTERM or SIGINT sets the runner's stop event: the worker finishes
the document in hand, writes and marks what is done and gives back the rest of
its lease. If that takes longer than the stop timeout, the process gives back
the leases it holds (``before_exit``, bounded to the last ``GIVE_BACK_SECONDS``
of the timeout) and exits: nothing is lost, another worker on any host takes
the unfinished ranges over at once (were the database unreachable, when the
lease ends). A second signal exits at once, giving the leases back the same
way. SIGHUP is logged and ignored: the configuration is read at start, so
reload it with a restart.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

__all__ = ["EXIT_FORCED", "StopControl", "exit_code_for", "parent_death_signal"]

log = logging.getLogger(__name__)

#: Exit status when the stop timeout passed with work still in hand.
EXIT_FORCED = 124
#: The end of the stop timeout kept for ``before_exit`` (giving the leases back), at most.
GIVE_BACK_SECONDS = 2.0


def exit_code_for(signum: int) -> int:
    """The shell's exit status for a process ended by ``signum`` (130 for SIGINT)."""
    return 128 + signum


class StopControl:
    """Installs the handlers for a ``with`` block; ``signum`` is the first signal received."""

    def __init__(
        self,
        stop: threading.Event,
        timeout: float,
        *,
        waiting_for: Callable[[], str] = lambda: "the batch in hand",
        before_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.stop = stop
        self.timeout = timeout
        self.waiting_for = waiting_for
        self.before_exit = before_exit
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._timer: threading.Timer | None = None

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> StopControl:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_stop)
        self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hangup)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            log.warning("%s again: exiting now (unfinished leases expire on their own)", name)
            self._exit(exit_code_for(signum))
        self.signum = signum
        log.warning(
            "%s: stopping; waiting for %s (at most %ss; a second signal exits at once)",
            name,
            self.waiting_for(),
            f"{self.timeout:g}",
        )
        self.stop.set()
        spare = min(GIVE_BACK_SECONDS, self.timeout / 4)
        self._timer = threading.Timer(self.timeout - spare, self._timed_out, (spare,))
        self._timer.daemon = True
        self._timer.start()

    def _timed_out(self, spare: float) -> None:
        log.error(
            "stop timeout of %ss passed while waiting for %s; giving back the leases and exiting",
            f"{self.timeout:g}",
            self.waiting_for(),
        )
        self._exit(EXIT_FORCED, spare)

    def _exit(self, code: int, spare: float = GIVE_BACK_SECONDS) -> None:
        try:
            done = threading.Thread(target=self.before_exit, name="before-exit", daemon=True)
            done.start()
            done.join(spare)  # a database that does not answer does not hold the exit
        finally:
            logging.shutdown()
            sys.stderr.flush()
            os._exit(code)

    @staticmethod
    def _on_hangup(_signum: int, _frame: FrameType | None) -> None:
        log.warning("SIGHUP ignored: the configuration is read at start; restart to reload it")


def parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (``PR_SET_PDEATHSIG``).

    Returns ``False`` where that is not available (not Linux).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    return bool(libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0) == 0)
