"""Meta-test: the built-in plugins (and the scaffold) use only the documented plugin API.

The API is what docs/plugins.md promises ("Compatibility promise"): the names
in ``__all__`` of ``cybexp_core`` and of the modules listed there. Each
plugin's sources are parsed with :mod:`ast`; an import of anything else from
``cybexp_core`` (``cybexp_core.models.Child``, ``cybexp_core.backend``...) fails.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import cybexp_core

ROOT = Path(__file__).resolve().parents[2]
PROMISE = (ROOT / "docs" / "plugins.md").read_text().split("## Compatibility promise", 1)[1]
TEMPLATE = Path(cybexp_core.__file__).parent / "templates" / "filter_plugin"
SOURCES = sorted(ROOT.glob("plugins/*/src/**/*.py")) + sorted((TEMPLATE / "src").rglob("*.py.tmpl"))


def public_modules() -> set[str]:
    """The modules the compatibility promise lists, from the bullet that names ``__all__``."""
    bullet = next(line for line in PROMISE.split("\n- ") if "__all__" in line)
    return set(re.findall(r"`(cybexp_core(?:\.\w+)?)`", bullet))


def public_names() -> dict[str, set[str]]:
    return {name: set(importlib.import_module(name).__all__) for name in public_modules()}


def leaks(source: str, api: dict[str, set[str]]) -> Iterator[str]:
    """Every use of ``cybexp_core`` in ``source`` that is not in ``api``."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> cybexp_core module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cybexp_core"):
            module = node.module or ""
            for alias in node.names:
                if module not in api or alias.name not in api[module]:
                    yield f"from {module} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("cybexp_core"):
                    continue
                if alias.name not in api:
                    yield f"import {alias.name}"
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else "cybexp_core"
                )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = bound.get(node.value.id)
            if module is None:
                continue
            submodule = f"{module}.{node.attr}"
            if node.attr not in api.get(module, set()) and submodule not in api:
                yield f"{module}.{node.attr}"


def test_the_promise_lists_modules_that_exist() -> None:
    modules = public_modules()
    assert {"cybexp_core", "cybexp_core.builders", "cybexp_core.inputs"} <= modules
    for name, names in public_names().items():
        module = importlib.import_module(name)
        assert all(hasattr(module, item) for item in names), name


def test_the_checker_finds_every_kind_of_leak() -> None:
    source = (
        "import cybexp_core\nimport cybexp_core.backend\nimport cybexp_core.indicators as ind\n"
        "from cybexp_core import Attribute, backend\nfrom cybexp_core.models import Child\n"
        "x = cybexp_core.models.Child\ny = cybexp_core.Child\nz = ind.normalize_host\n"
    )
    assert sorted(leaks(source, public_names())) == [
        "cybexp_core.models",
        "from cybexp_core import backend",
        "from cybexp_core.models import Child",
        "import cybexp_core.backend",
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(path.parents[2])))
def test_a_plugin_imports_only_the_documented_api(path: Path) -> None:
    source = path.read_text()
    if path.suffix == ".tmpl":
        source = re.sub(r"\{\{\s*\w+\s*\}\}", "x", source)
    assert list(leaks(source, public_names())) == [], f"{path}: not in the documented plugin API"


def test_every_built_in_plugin_is_checked() -> None:
    plugins = {
        path.parts[len(ROOT.parts) + 1] for path in SOURCES if ROOT / "plugins" in path.parents
    }
    assert plugins == {path.name for path in (ROOT / "plugins").iterdir() if path.is_dir()}
