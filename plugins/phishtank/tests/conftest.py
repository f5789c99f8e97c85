from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cybexp_core import Raw
from cybexp_core.ingest import read_file

pytest_plugins = ["cybexp_core.testing"]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def ingest() -> Callable[..., list[dict[str, Any]]]:
    """Raw documents of a file as ``ingest --format file`` makes them, plus ``extra`` data fields."""

    def read(name: str | Path, chunk_bytes: int | None = None, **extra: Any) -> list[dict[str, Any]]:
        path = name if isinstance(name, Path) else DATA / name
        options = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
        raws = read_file(path, "phishtank_feed", "test_org", "UTC", **options)
        return [Raw("phishtank_feed", {**raw.data, **extra}, "test_org").doc for raw in raws]

    return read
