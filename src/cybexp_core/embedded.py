"""The embedded default: one lasting local server per data directory, shared by every command.

A command that finds no MongoDB configured uses the server of the data directory
(``$CYBEXP_DATA_DIR``, else the per-user data directory), starting it when none
answers. The server is a process of its own (not a child of the command), so no
command loses its database because another one exited. It runs until the last
command using it exits, or, once pinned by ``cybexp-analytics server start``,
until ``cybexp-analytics server stop``.

Two lock files coordinate the commands (``fcntl.flock``, released by the kernel
when a process dies): ``server.lock`` is held while a command starts, adopts or
stops the server, so two commands never start two servers on the same files;
``server.users`` is held shared by every command using the server, so the last
one out can tell it is the last. ``server.json`` says where the server listens; a
state file whose process is gone or does not answer is detected and replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import platformdirs
from attrs import asdict, define, evolve
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from cybexp_core.errors import ConfigError
from cybexp_core.server import free_port, loopback_uri, server_command, wait_until_up

__all__ = [
    "DATA_DIR_ENV",
    "EmbeddedServer",
    "ServerState",
    "data_dir",
    "server_state",
    "start_server",
    "stop_server",
]

log = logging.getLogger(__name__)
DATA_DIR_ENV = "CYBEXP_DATA_DIR"
#: Starts the server as a grandchild and prints its pid, so the server is nobody's child.
_SPAWN = (
    "import subprocess, sys\n"
    "out = open(sys.argv[1], 'ab')\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT,"
    " stdin=subprocess.DEVNULL, start_new_session=True)\n"
    "print(p.pid)\n"
)


def data_dir() -> Path:
    """Where the embedded server keeps its data (``$CYBEXP_DATA_DIR`` overrides)."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else Path(platformdirs.user_data_dir("cybexp-analytics"))


@define(frozen=True)
class ServerState:
    """What ``server.json`` records about a running embedded server."""

    uri: str
    pid: int
    data: str
    log: str
    started: str
    #: Started by ``server start``: kept running until ``server stop``.
    pinned: bool = False


def _process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _answers(uri: str) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _flocked(path: Path, mode: int) -> Iterator[IO[str]]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Files:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state = directory / "server.json"
        self.lock = directory / "server.lock"
        self.users = directory / "server.users"
        self.log = directory / "server.log"
        self.storage = directory / "db"

    def read(self) -> ServerState | None:
        try:
            return ServerState(**json.loads(self.state.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, state: ServerState) -> None:
        temporary = self.state.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state)))
        temporary.replace(self.state)

    def running(self) -> ServerState | None:
        """The recorded server if it is alive and answers; a stale record is removed."""
        state = self.read()
        if state is None:
            return None
        if _process_alive(state.pid) and _answers(state.uri):
            return state
        log.warning("embedded server %s (pid %d) is gone; starting a new one", state.uri, state.pid)
        _terminate(state.pid, grace=5.0)
        self.state.unlink(missing_ok=True)
        return None

    def start(self, *, pinned: bool) -> ServerState:
        self.storage.mkdir(parents=True, exist_ok=True)
        port = free_port()
        command = server_command(self.storage, port, sync_on_commit=True, standalone=False)
        spawned = subprocess.run(
            [sys.executable, "-c", _SPAWN, str(self.log), *command],
            capture_output=True,
            text=True,
            check=True,
        )
        pid = int(spawned.stdout.strip())
        state = ServerState(
            uri=loopback_uri(port),
            pid=pid,
            data=str(self.storage),
            log=str(self.log),
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            pinned=pinned,
        )
        try:
            wait_until_up(state.uri, time.monotonic() + 60.0, lambda: _process_alive(pid), self.log)
        except ConfigError:
            _terminate(pid, grace=5.0)
            raise
        self.write(state)
        return state

    def stop(self, state: ServerState) -> None:
        _terminate(state.pid, grace=30.0)
        self.state.unlink(missing_ok=True)

    def in_use(self) -> bool:
        """Whether some process holds ``server.users`` (uses the server right now)."""
        with open(self.users, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


def _terminate(pid: int, *, grace: float) -> None:
    """SIGTERM ``pid`` (a server in its own session), SIGKILL its group after ``grace`` s."""
    if not _process_alive(pid) or not _is_server(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _process_alive(pid):
        if time.monotonic() > deadline:
            log.warning("embedded server pid %d did not stop in %ss; killing it", pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        time.sleep(0.05)


def _is_server(pid: int) -> bool:
    try:
        return b"secantusd" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the state file


def server_state(directory: Path | None = None) -> tuple[ServerState | None, bool]:
    """The running server of ``directory`` (or ``None``), and whether a command uses it."""
    files = _Files(directory or data_dir())
    if not files.directory.exists():
        return None, False
    with _flocked(files.lock, fcntl.LOCK_EX):
        return files.running(), files.in_use()


def start_server(directory: Path | None = None) -> ServerState:
    """Start (or adopt) the server of ``directory`` and keep it until :func:`stop_server`."""
    files = _Files(directory or data_dir())
    files.directory.mkdir(parents=True, exist_ok=True)
    with _flocked(files.lock, fcntl.LOCK_EX):
        state = files.running()
        if state is None:
            return files.start(pinned=True)
        if not state.pinned:
            state = evolve(state, pinned=True)
            files.write(state)
        return state


def stop_server(directory: Path | None = None) -> ServerState | None:
    """Stop the server of ``directory``; the state it had, or ``None`` if none ran."""
    files = _Files(directory or data_dir())
    if not files.directory.exists():
        return None
    with _flocked(files.lock, fcntl.LOCK_EX):
        state = files.running()
        if state is not None:
            files.stop(state)
        return state


class EmbeddedServer:
    """Use the server of the data directory for the ``with`` block, starting it if needed.

    On exit the server is stopped when this was its last user and it is not pinned.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or data_dir()
        self._files = _Files(self.directory)
        self._users: IO[str] | None = None
        self.state: ServerState | None = None
        self.uri = ""

    @property
    def log_file(self) -> Path:
        return self._files.log

    def __enter__(self) -> EmbeddedServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        with _flocked(self._files.lock, fcntl.LOCK_EX):
            self.state = self._files.running() or self._files.start(pinned=False)
            self._users = open(self._files.users, "a+")
            fcntl.flock(self._users, fcntl.LOCK_SH)
        self.uri = self.state.uri
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._users is None:
            return
        self._users.close()  # releases the shared lock
        self._users = None
        with _flocked(self._files.lock, fcntl.LOCK_EX):
            state = self._files.read()
            if state is None or state.pinned or self._files.in_use():
                return
            if state.pid == getattr(self.state, "pid", None):
                self._files.stop(state)
