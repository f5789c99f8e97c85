"""``new-plugin``: the generated package is complete, installable and passes its own tests.

The generated package is "installed" here the way pip leaves it, with a
``.dist-info`` holding its entry point, so its tests load it through the entry
point. ``tests/integration/test_third_party_plugin.py`` builds and pip-installs
a real wheel into a fresh environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from cybexp_core.cli import cli
from cybexp_core.scaffold import PluginNames, new_plugin, plugin_names

NAME = "dns_log"


def install_like_pip(plugin: Path, site: Path, names: PluginNames) -> dict[str, str]:
    """Make ``plugin`` importable with its entry point, as ``pip install -e`` would.

    Returns the environment for a subprocess that sees it.
    """
    pyproject = (plugin / "pyproject.toml").read_text()
    entry = re.search(r'\[project\.entry-points\."cybexp\.filters"\]\n(\w+) = "(\w+)"', pyproject)
    assert entry is not None, pyproject
    info = site / f"{names.module}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {names.dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[cybexp.filters]\n{entry[1]} = {entry[2]}\n")
    path = os.pathsep.join([str(site), str(plugin / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def generate(tmp_path: Path, name: str = NAME) -> Path:
    result = CliRunner().invoke(new_plugin, [name, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path / plugin_names(name).dist


def run_its_tests(
    plugin: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=plugin,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "module", "dist"),
    [
        ("dns_log", "cybexp_filter_dns_log", "cybexp-filter-dns-log"),
        ("zeek2", "cybexp_filter_zeek2", "cybexp-filter-zeek2"),
    ],
)
def test_names_derived_from_the_plugin_name(name: str, module: str, dist: str) -> None:
    assert plugin_names(name) == PluginNames(name, module, dist)


@pytest.mark.parametrize("name", ["DNS", "dns-log", "2fa", "dns__log", "dns_", "", "a b", "é"])
def test_bad_names_are_refused(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(new_plugin, [name, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Invalid value for NAME" in result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_name_error_suggests_a_good_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(new_plugin, ["DNS-Log", "--dir", str(tmp_path)])
    assert "'dns_log'" in result.output


# ---------------------------------------------------------------------------- the package


def test_new_plugin_is_a_command_of_the_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", NAME, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cybexp-filter-dns-log" / "pyproject.toml").exists()


def test_generated_package_layout_and_metadata(tmp_path: Path) -> None:
    plugin = generate(tmp_path)
    files = sorted(str(p.relative_to(plugin)) for p in plugin.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "examples/sample.jsonl",
        "pyproject.toml",
        "src/cybexp_filter_dns_log/__init__.py",
        "src/cybexp_filter_dns_log/parse.py",
        "tests/conftest.py",
        "tests/data/example.expected.json",
        "tests/data/example.input.json",
        "tests/test_filter.py",
    ]
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    assert project["name"] == "cybexp-filter-dns-log"
    assert project["entry-points"]["cybexp.filters"] == {NAME: "cybexp_filter_dns_log"}
    major, minor = version("cybexp-core").split(".")[:2]
    assert project["dependencies"] == [f"cybexp-core>={major}.{minor},<{int(major) + 1}"]
    for path in plugin.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{" not in text and "__module__" not in text, path
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    conftest = (plugin / "tests" / "conftest.py").read_text()
    assert 'pytest_plugins = ["cybexp_core.testing"]' in conftest


def test_each_package_gets_its_own_filter_id(tmp_path: Path) -> None:
    pattern = re.compile(r'FILTER_ID = "([0-9a-f-]+)"')
    ids = []
    for where in ("a", "b"):
        plugin = generate(tmp_path / where)
        found = pattern.search((plugin / "src/cybexp_filter_dns_log/__init__.py").read_text())
        assert found is not None
        ids.append(uuid.UUID(found[1]))
    assert ids[0] != ids[1] and {i.version for i in ids} == {4}


def test_golden_file_holds_the_example_output(tmp_path: Path) -> None:
    plugin = generate(tmp_path)
    (event,) = json.loads((plugin / "tests/data/example.expected.json").read_text())
    assert event["itype"] == "event" and event["sub_type"] == "sighting"
    assert event["data"] == {
        "domain": ["example.com"],
        "url": ["http://example.com/login?next=/account"],
        "user": ["root"],
    }
    assert re.fullmatch(r"[0-9a-f]{64}", event["_hash"])


def test_existing_directory_is_refused_and_kept(tmp_path: Path) -> None:
    plugin = generate(tmp_path)
    marker = plugin / "README.md"
    marker.write_text("mine")
    result = CliRunner().invoke(new_plugin, [NAME, "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert marker.read_text() == "mine"


def test_dir_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(new_plugin, [NAME, "--dir", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file" in result.output
    result = CliRunner().invoke(new_plugin, [NAME, "--dir", str(tmp_path / "file" / "sub")])
    assert result.exit_code == 1
    assert "Error: cannot create the package in" in result.output
    assert (tmp_path / "file").read_text() == ""


def test_name_of_an_installed_plugin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = generate(tmp_path / "first")
    install_like_pip(plugin, tmp_path / "site", plugin_names(NAME))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    result = CliRunner().invoke(new_plugin, [NAME, "--dir", str(tmp_path / "second")])
    assert result.exit_code == 1
    assert "already installed (from cybexp-filter-dns-log)" in result.output
    assert not (tmp_path / "second").exists()


# ---------------------------------------------------------------------------- its own tests


def test_generated_package_passes_its_own_tests_unchanged(tmp_path: Path, mongo_uri: str) -> None:
    plugin = generate(tmp_path)
    env = install_like_pip(plugin, tmp_path / "site", plugin_names(NAME))
    env["MONGO_URI"] = mongo_uri
    result = run_its_tests(plugin, env, "-v")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for test in ("test_golden[example]", "test_contract", "test_run_stores_events"):
        assert re.search(rf"{re.escape(test)}\S* PASSED", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("old", "new", "failing"),
    [
        # The clock as timestamp: output changes between runs.
        (
            "timestamp = timestamp_of(data)",
            "import time\n    timestamp = time.time() + timestamp_of(data)",
            {"test_golden[example]", "test_contract"},
        ),
        # A crash instead of the documented error for bad input.
        (
            'raise InputError(f"data must be a JSON object',
            'raise TypeError(f"data must be a JSON object',
            {"test_contract"},
        ),
        # A changed output shape: the golden file notices.
        (
            "return host_attribute(value)",
            'return Attribute("host", value)',
            {"test_golden[example]"},
        ),
    ],
    ids=["clock", "crash", "changed-output"],
)
def test_generated_tests_catch_a_broken_filter(
    tmp_path: Path, old: str, new: str, failing: set[str]
) -> None:
    plugin = generate(tmp_path)
    parse = plugin / "src/cybexp_filter_dns_log/parse.py"
    source = parse.read_text()
    assert old in source
    parse.write_text(source.replace(old, new))
    env = install_like_pip(plugin, tmp_path / "site", plugin_names(NAME))
    result = run_its_tests(plugin, env, "-k", "golden or contract", "-q")
    assert result.returncode == 1, result.stdout[-4000:]
    failed = set(re.findall(r"^FAILED tests/test_filter\.py::(\S+)", result.stdout, re.M))
    assert failed == failing, result.stdout[-4000:]
