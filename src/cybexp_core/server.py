"""Start a local MongoDB-wire-compatible server (SecantusDB) as a child process.

Used for the CLI's embedded default and by the test fixtures. SecantusDB is
GPL-2.0-only, so it is only ever run as a separate program (``secantusd-py``,
from the ``cybexp-core[embedded]`` extra), never imported.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from attrs import define, field
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from cybexp_core.errors import ConfigError

__all__ = [
    "LocalServer",
    "free_port",
    "loopback_uri",
    "server_command",
    "server_executable",
    "wait_until_up",
]

log = logging.getLogger(__name__)
EXECUTABLE = "secantusd-py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_uri(port: int) -> str:
    """The URL of a local server on ``port``, without retryable writes.

    SecantusDB keeps the reply of every retryable write (30 minutes, up to 10,000) and walks
    that list on every write, so with the driver's default ``retryWrites=true`` a write's server
    CPU grows with the writes before it (measured: an insert_one 1.9 ms at first, 21 ms after
    24,000 inserts; flat ~2 ms without). The runner's writes need no driver retry: claims and
    splits are version compare-and-set, a release is conditional on the lease id, outputs are
    unique inserts (a duplicate is expected) and failures are upserts.
    """
    return f"mongodb://127.0.0.1:{port}/?retryWrites=false"


def server_executable() -> str:
    """Path of ``secantusd-py``: beside this interpreter first, then on ``PATH``."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.exists():
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise ConfigError(
            "no MongoDB is configured and the embedded server is not installed; "
            "install it with: pip install 'cybexp-core[embedded]' "
            "(or pass --mongo-url / set CYBEXP_MONGO_URL)"
        )
    return found


def server_command(
    storage: Path, port: int, *, sync_on_commit: bool = True, standalone: bool = True
) -> list[str]:
    """The ``secantusd-py`` command line for a server on ``127.0.0.1:port``.

    Without ``standalone`` the server advertises a single-node replica set, which is
    what change streams need; pymongo connects to it with a plain
    ``mongodb://127.0.0.1:port/`` URL.
    """
    command = [
        server_executable(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(storage),
        "--log-level",
        "WARNING",
    ]
    if standalone:
        command.append("--standalone")
    if sync_on_commit:
        command.append("--sync-on-commit")
    return command


def wait_until_up(uri: str, deadline: float, running: Callable[[], bool], log_path: Path) -> None:
    """Wait until the server at ``uri`` answers a ping, while ``running()`` holds.

    :raises ConfigError: When the server exits or ``deadline`` (monotonic) passes.
    """
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        while True:
            if not running():
                raise ConfigError(f"embedded server exited at start; see {log_path}")
            try:
                client.admin.command("ping")
                return
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise ConfigError(f"embedded server did not start; see {log_path}") from None
                time.sleep(0.1)
    finally:
        client.close()


@define
class LocalServer:
    """A SecantusDB child process on a loopback port, storing its data in ``storage``.

    ``sync_on_commit`` makes every acknowledged write durable, so a killed
    process loses nothing it acknowledged.
    """

    storage: Path
    port: int = field(factory=free_port)
    sync_on_commit: bool = True
    log_file: Path | None = None
    #: Hide the single-node replica set SecantusDB advertises (no change streams then).
    standalone: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def uri(self) -> str:
        return loopback_uri(self.port)

    def start(self, timeout: float = 60.0) -> LocalServer:
        """Start the server and wait until it answers a ping."""
        self.storage.mkdir(parents=True, exist_ok=True)
        command = server_command(
            self.storage, self.port, sync_on_commit=self.sync_on_commit, standalone=self.standalone
        )
        log_path = self.log_file or self.storage.parent / f"{self.storage.name}.log"
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        process, deadline = self.process, time.monotonic() + timeout
        try:
            wait_until_up(self.uri, deadline, lambda: process.poll() is None, log_path)
        except ConfigError:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server cleanly (SIGTERM), killing it only if it does not exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("embedded server did not stop in %ss; killing it", timeout)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
