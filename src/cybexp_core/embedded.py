"""The embedded default: a local server in a per-user data directory, shared by CLI calls."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import platformdirs
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from cybexp_core.server import LocalServer

__all__ = ["EmbeddedServer", "data_dir"]

log = logging.getLogger(__name__)
DATA_DIR_ENV = "CYBEXP_DATA_DIR"


def data_dir() -> Path:
    """Where the embedded server keeps its data (``$CYBEXP_DATA_DIR`` overrides)."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else Path(platformdirs.user_data_dir("cybexp-analytics"))


def _alive(uri: str) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class EmbeddedServer:
    """Start (or reuse) the embedded server; stop it on exit if this process started it."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or data_dir()
        self.state_file = self.directory / "server.json"
        self._server: LocalServer | None = None
        self.uri = ""

    def __enter__(self) -> EmbeddedServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.state_file.exists():
            try:
                uri = json.loads(self.state_file.read_text())["uri"]
            except (ValueError, KeyError, OSError):
                uri = ""
            if uri and _alive(uri):
                self.uri = uri
                return self
        self._server = LocalServer(
            self.directory / "db", sync_on_commit=True, log_file=self.directory / "server.log"
        ).start()
        self.uri = self._server.uri
        self.state_file.write_text(json.dumps({"uri": self.uri, "pid": os.getpid()}))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
            self.state_file.unlink(missing_ok=True)
