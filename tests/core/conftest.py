"""Core tests run against a live MongoDB-wire server (see cybexp_core.testing)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from cybexp_core.backend import Archive
from cybexp_core.cli import cli

pytest_plugins = ["cybexp_core.testing"]


@pytest.fixture
def invoke(archive: Archive, mongo_uri: str) -> Callable[..., Result]:
    """``cybexp-analytics ARGS`` in this process (click's CliRunner), on the test's database;
    exceptions propagate."""
    db = archive.collection.database.name

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            cli, ["--mongo-url", mongo_uri, "--db", db, *args], catch_exceptions=False
        )

    return run
