"""Sessions that build, test and run cybexp-analytics. Start with ``python3 dev.py``.

Every package is installed *non-editable*, as users install it, so entry
points are the real ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.parent.name for p in ROOT.glob("plugins/*/pyproject.toml"))
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100"]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests", "plugin", "integration"]


def _install_core(session: nox.Session, *extra: str) -> None:
    session.install(f"{ROOT}[embedded]", *TEST_DEPS, *extra)


def _install_plugins(session: nox.Session, names: list[str]) -> None:
    session.install(*(str(ROOT / "plugins" / name) for name in names))


# ---------------------------------------------------------------------------- checks


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the core, the plugins, the tests and the benchmarks."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "plugins", "benchmarks", "noxfile.py", "dev.py")


@nox.session
def tests(session: nox.Session) -> None:
    """Core tests (no real plugin installed) against a live server."""
    _install_core(session)
    session.run("pytest", "tests/core", *session.posargs)


@nox.session
@nox.parametrize("name", PLUGINS)
def plugin(session: nox.Session, name: str) -> None:
    """One plugin's tests, in its own environment with only the core and that plugin."""
    _install_core(session)
    _install_plugins(session, [name])
    session.chdir(ROOT / "plugins" / name)
    session.run("pytest", "tests", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Every plugin installed together: chaining, the CLI end to end, third-party installs."""
    _install_core(session, "build>=1")
    _install_plugins(session, PLUGINS)
    session.run("pytest", "tests/integration", *session.posargs)


# ---------------------------------------------------------------------------- the main job


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the embedded server: ingest the sample data, run every filter, report."""
    _install_core(session)
    _install_plugins(session, PLUGINS)
    env = {"CYBEXP_MONGO_URL": os.environ.get("CYBEXP_MONGO_URL", "")}
    if not env["CYBEXP_MONGO_URL"]:
        env = {}
    examples = ROOT / "examples"
    script = ROOT / "examples" / "demo.py"
    session.run("python", str(script), str(examples), *session.posargs, env=env)


@nox.session
def benchmark(session: nox.Session) -> None:
    """Throughput, MongoDB commands per document and memory (see benchmarks/run.py)."""
    _install_core(session)
    _install_plugins(session, PLUGINS)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def latency(session: nox.Session) -> None:
    """Insert-to-processed latency of the daemon at 100 documents/s (benchmarks/latency.py)."""
    _install_core(session)
    _install_plugins(session, PLUGINS)
    session.run("python", "benchmarks/latency.py", *session.posargs)


@nox.session
def stop_time(session: nox.Session) -> None:
    """SIGTERM in the middle of a large PhishTank batch: stop time, nothing lost
    (benchmarks/stop_time.py)."""
    _install_core(session)
    _install_plugins(session, PLUGINS)
    session.run("python", "benchmarks/stop_time.py", *session.posargs)
