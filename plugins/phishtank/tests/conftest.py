from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cybexp_core.ingest import read_file

pytest_plugins = ["cybexp_core.testing"]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def ingest() -> Callable[..., list[dict[str, Any]]]:
    """Raw documents of a file as ``ingest --format file [--timestamp T]`` makes them."""

    def read(
        name: str | Path, chunk_bytes: int | None = None, timestamp: float | None = None
    ) -> list[dict[str, Any]]:
        path = name if isinstance(name, Path) else DATA / name
        raws = read_file(path, "phishtank_feed", "test_org", "UTC", chunk_bytes, timestamp)
        return [raw.doc for raw in raws]

    return read


BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_phishtank.py"


@pytest.fixture
def synthetic_dump() -> Callable[[Path, int], Path]:
    """``benchmarks/bench_phishtank.py``'s generator of PhishTank-shaped CSV dumps."""
    spec = importlib.util.spec_from_file_location("bench_phishtank", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_dump
