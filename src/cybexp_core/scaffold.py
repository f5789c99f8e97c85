"""``cybexp-analytics new-plugin NAME``: generate a filter plugin as its own installable package.

The package is rendered from ``templates/filter_plugin`` (files ending in
``.tmpl``; ``{{key}}`` placeholders; ``__module__`` in a path is the module
name). Its golden file is written by running the generated filter on the
example input, so the new package passes its own tests unchanged.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, entry_points, version
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click
from attrs import frozen

from cybexp_core.hookspecs import ENTRY_POINT_GROUP
from cybexp_core.models import Raw
from cybexp_core.plugins import load_filters

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["PluginNames", "generate", "new_plugin", "plugin_names"]

TEMPLATE = "filter_plugin"
#: Lower-case letters and digits in words joined by single underscores: ``dns_log``.
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
#: The golden case the scaffold writes, and the raw fields ``testing.make_raw`` uses by default.
_GOLDEN_CASE = "tests/data/example"
_RAW_DEFAULTS = {"orgid": "test_org", "timezone": "UTC"}


@frozen
class PluginNames:
    """Every name derived from the plugin name ``name`` (``dns_log``)."""

    #: Entry-point name, filter name and raw sub_type: ``dns_log``.
    name: str
    #: Import name: ``cybexp_filter_dns_log``.
    module: str
    #: Distribution name and directory: ``cybexp-filter-dns-log``.
    dist: str


def plugin_names(name: str) -> PluginNames:
    """Validate ``name`` and derive the module and distribution names.

    :raises ValueError: If ``name`` is not lower-case words joined by single underscores.
    """
    if not _NAME.match(name):
        hint = name.strip().lower().replace("-", "_")
        suggestion = f" (e.g. {hint!r})" if _NAME.match(hint) else ""
        raise ValueError(
            "must be lower-case letters and digits, words joined by single underscores, "
            f"starting with a letter{suggestion}; got {name!r}"
        )
    return PluginNames(name, f"cybexp_filter_{name}", f"cybexp-filter-{name.replace('_', '-')}")


def _core_requirement() -> str:
    """``cybexp-core>=X.Y,<X+1``: this core's features, within the major version of its spec."""
    try:
        found = re.match(r"(\d+)\.(\d+)", version("cybexp-core"))
    except PackageNotFoundError:
        found = None
    major, minor = (int(found[1]), int(found[2])) if found else (1, 0)
    return f"cybexp-core>={major}.{minor},<{major + 1}"


def _templates(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if entry.is_dir():
            yield from _templates(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".tmpl"):
            yield f"{prefix}{entry.name.removesuffix('.tmpl')}", entry


def render(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{{key}}`` in ``text``; an unknown key is a bug in the template."""

    def value(match: re.Match[str]) -> str:
        key = match[1]
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _PLACEHOLDER.sub(value, text)


def _installed_clash(names: PluginNames) -> str | None:
    """Why ``names`` would clash with what is installed, or ``None``."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == names.name:
            dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
            return f"a filter plugin named {names.name!r} is already installed (from {dist})"
    if find_spec(names.module) is not None:
        return f"a module named {names.module!r} is already importable"
    return None


def _import_generated(src: Path, module: str) -> ModuleType:
    """Import the generated package from ``src`` without leaving it in ``sys.modules``."""
    sys.path.insert(0, str(src))
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(src))
        for key in [k for k in sys.modules if k == module or k.startswith(f"{module}.")]:
            del sys.modules[key]


def _write_golden(target: Path, names: PluginNames) -> int:
    """Run the generated filter on the example input; write what it makes as the expected file."""
    plugin = _import_generated(target / "src", names.module)
    report = load_filters(entry_points_=(), extra_plugins={names.name: plugin}, strict=True)
    data = json.loads((target / f"{_GOLDEN_CASE}.input.json").read_text(encoding="utf-8"))
    result = report.filters[0].run(Raw(names.name, data, **_RAW_DEFAULTS).doc)
    if result is None:
        raise RuntimeError("the generated filter made nothing from its example input")
    expected = [instance.doc for instance in result.instances]
    (target / f"{_GOLDEN_CASE}.expected.json").write_text(
        json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return len(expected)


def generate(name: str, parent: Path, *, filter_id: str | None = None) -> Path:
    """Create ``parent/cybexp-filter-<name>/`` and return its path.

    :raises ValueError: For a bad ``name``.
    :raises FileExistsError: If the directory already exists.
    """
    names = plugin_names(name)
    target = parent / names.dist
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    values = {
        "name": names.name,
        "module": names.module,
        "dist": names.dist,
        "filter_id": filter_id or str(uuid.uuid4()),
        "core_requirement": _core_requirement(),
    }
    target.mkdir(parents=True)
    try:
        for relative, template in _templates(files("cybexp_core") / "templates" / TEMPLATE):
            path = target / relative.replace("__module__", names.module)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(template.read_text(encoding="utf-8"), values), encoding="utf-8")
        _write_golden(target, names)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package directory cybexp-filter-NAME.",
)
def new_plugin(name: str, parent: Path) -> None:
    """Create a filter plugin package NAME that pip can install (see docs/plugins.md).

    NAME (e.g. dns_log) is the entry-point name, the filter name and the raw
    sub_type it reads. The package holds a working example filter, a README
    and tests (golden file, contract check) that pass as generated.
    """
    try:
        names = plugin_names(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    clash = _installed_clash(names)
    if clash:
        raise click.ClickException(f"{clash}; choose another NAME (or pip uninstall it first)")
    try:
        target = generate(name, parent)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc}; choose another NAME or --dir") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create the package in {parent}: {exc}") from None
    click.echo(f"created {target}/ (distribution {names.dist}, module {names.module})")
    click.echo("next:")
    click.echo(f"  cd {target}")
    click.echo('  pip install -e ".[test]"')
    click.echo("  pytest")
    click.echo(f"  cybexp-analytics plugins            # lists {names.name}")
    click.echo(f"  cybexp-analytics ingest --sub-type {names.name} examples/sample.jsonl")
    click.echo("  cybexp-analytics run --once")
