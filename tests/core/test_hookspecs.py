"""Meta-tests: every hook is documented (each argument, the return) and tested by name."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cybexp_core import hookspecs

HOOKS = [
    name
    for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, f"{hookspecs.PROJECT}_spec")
]
TESTS = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))


def test_hooks_are_declared() -> None:
    assert sorted(HOOKS) == ["configure", "filter", "filter_info", "register_commands"]


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name: str) -> None:
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{name}: argument {argument} is not documented"
    assert ":return:" in doc
    assert ":raises" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    assert f"def test_hook_{name}" in TESTS, f"no test_hook_{name} in tests/core"
