"""docs/plugins.md and docs/testing-plugins.md say what the code does.

The hook reference is checked against the hook specs' docstrings (like
datasette's ``test_plugin_hooks_are_documented``): one heading per hook with
its exact signature, every argument, the return contract and every error. The
test kit reference is checked against ``cybexp_core.testing``, and every
command line and code block in the docs against the CLI and the template.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import click
import pytest

import cybexp_core
from cybexp_core import hookspecs, testing
from cybexp_core.cli import cli
from cybexp_core.declaration import Consumes, FilterInfo, FilterResult, Problem
from cybexp_core.scaffold import render

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLUGINS = (DOCS / "plugins.md").read_text()
TESTING = (DOCS / "testing-plugins.md").read_text()
HOOKS = [
    value
    for value in vars(hookspecs).values()
    if inspect.isfunction(value) and hasattr(value, f"{hookspecs.PROJECT}_spec")
]
TEMPLATE = Path(cybexp_core.__file__).parent / "templates" / "filter_plugin"


def section(text: str, heading: str) -> str:
    """The text under the markdown heading ``heading``, up to the next heading of its level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert match is not None, f"no heading {heading!r}"
    level = len(match[1])
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, match.end())
    return text[match.end() : end.start() if end else len(text)]


def call_signature(function: Callable[..., Any]) -> str:
    """``name(a, b=None, **c)``: parameter names and defaults, as the docs write them."""
    parts = []
    for param in inspect.signature(function).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            parts.append(f"**{param.name}")
        elif param.default is param.empty:
            parts.append(param.name)
        else:
            default = param.default
            shown = json.dumps(default) if isinstance(default, str) else repr(default)
            parts.append(f"{param.name}={shown}")
    return f"{function.__name__}({', '.join(parts)})"


def docstring_fields(doc: str) -> dict[str, str]:
    """``{":param x", ":return", ":raises X"}`` -> their text, from a reST field list."""
    fields: dict[str, str] = {}
    for match in re.finditer(r"^(:[^:\n]+):(.*(?:\n(?!:)[ \t]+.*)*)", doc, re.M):
        fields[match[1].strip()] = " ".join(match[2].split())
    return fields


def literals(text: str) -> set[str]:
    """The ``code`` literals of reST text, and the short names of its :role:`targets`."""
    found = set(re.findall(r"``(.+?)``", text))
    found |= {target.rsplit(".", 1)[-1] for target in re.findall(r":\w+:`~?([\w.]+)`", text)}
    return found


# ---------------------------------------------------------------------------- hook reference


def test_every_hook_is_in_the_reference() -> None:
    reference = section(PLUGINS, "Hook reference")
    documented = re.findall(r"^### (\w+)\(", reference, re.M)
    assert documented == [hook.__name__ for hook in HOOKS]


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_heading_is_its_signature(hook: Callable[..., Any]) -> None:
    assert f"\n### {call_signature(hook)}\n" in PLUGINS


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_section_covers_its_docstring(hook: Callable[..., Any]) -> None:
    text = section(PLUGINS, call_signature(hook))
    flat = " ".join(text.split())
    doc = inspect.getdoc(hook) or ""
    summary = " ".join(doc.split("\n\n")[0].split())
    assert flat.startswith(summary), "the section starts with another summary"
    fields = docstring_fields(doc)
    parameters = text.split("**Parameters**")[1].split("**Returns**")[0]
    for name in inspect.signature(hook).parameters:
        assert f":param {name}" in fields, f"{name} is not in the docstring"
        assert re.search(rf"^- `{name}` \(`[^`]+`\): ", parameters, re.M), f"{name} undocumented"
    assert "**Returns**" in text
    assert "**Errors**" in text
    raised = [key.split()[-1].rsplit(".", 1)[-1] for key in fields if key.startswith(":raises")]
    assert raised, "the docstring names no error"
    for error in raised:
        assert f"`{error}" in text, f"error {error} is not documented"
    for key, value in fields.items():
        for literal in literals(value):
            assert f"`{literal}`" in flat or literal in flat.replace("`", ""), (
                f"{key}: {literal!r} from the docstring is not in the reference"
            )
    if hook.cybexp_spec.get("firstresult"):  # type: ignore[attr-defined]
        assert "first non-`None` result" in flat


@pytest.mark.parametrize(
    ("model", "heading"),
    [(FilterInfo, "FilterInfo"), (Consumes, "Consumes"), (FilterResult, "FilterResult"),
     (Problem, "Problem")],
)
def test_declaration_types_are_documented_field_by_field(model: type, heading: str) -> None:
    text = section(PLUGINS, heading)
    names = [field.name for field in attrs.fields(model)]
    assert text.lstrip().startswith(f"`{heading}({names[0]}"), "no constructor signature"
    for name in names:
        assert f"`{name}" in text, f"{heading}.{name} is not documented"


def test_input_error_field_and_runner_errors_are_documented() -> None:
    assert "InputError(message, field=None)" in PLUGINS
    assert inspect.signature(cybexp_core.InputError).parameters.keys() == {"message", "field"}
    assert f"`{hookspecs.ENTRY_POINT_GROUP}`" in PLUGINS
    assert "CYBEXP_DISABLE_FILTERS" in PLUGINS


# ---------------------------------------------------------------------------- test kit


def kit_fixtures() -> list[str]:
    source = Path(testing.__file__).read_text()
    return re.findall(r"^@pytest\.fixture.*\ndef (\w+)\(", source, re.M)


@pytest.mark.parametrize("name", testing.__all__)
def test_kit_helper_heading_is_its_signature(name: str) -> None:
    assert f"\n### {call_signature(getattr(testing, name))}\n" in TESTING


def test_kit_fixtures_are_documented() -> None:
    fixtures = kit_fixtures()
    assert fixtures == ["mongo_uri", "archive", "other_archive", "plugin_manager"]
    text = section(TESTING, "Fixtures")
    for name in fixtures:
        assert f"- `{name}`" in text


def test_contract_check_lists_what_it_checks() -> None:
    text = section(TESTING, "The contract check")
    for word in ("entry point", "deterministic", "idempotent", "valid model", "InputError"):
        assert word in text
    assert testing.UPDATE_GOLDEN_ENV in TESTING


# ---------------------------------------------------------------------------- examples


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


@pytest.mark.parametrize("text", [PLUGINS, TESTING], ids=["plugins.md", "testing-plugins.md"])
def test_python_examples_compile(text: str) -> None:
    blocks = code_blocks(text, "python")
    assert blocks
    for block in blocks:
        compile(block, "<docs>", "exec")


def command_lines() -> list[list[str]]:
    lines = []
    for block in code_blocks(PLUGINS, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:  # VARIABLE=value prefixes
                words.pop(0)
            if words[:1] == ["cybexp-analytics"]:
                lines.append(words[1:])
    return lines


@pytest.mark.parametrize("args", command_lines(), ids=" ".join)
def test_command_lines_use_real_commands_and_options(args: list[str]) -> None:
    command: click.Command = cli
    for word in args:
        if word.startswith("-"):
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            assert word.split("=")[0] in options, f"{command.name} has no option {word}"
        elif isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
    assert command is not cli, "no subcommand"


def test_tutorial_diff_applies_to_the_generated_parser() -> None:
    values = {"name": "acme_feed", "module": "m", "dist": "d", "filter_id": "f"}
    source = render((TEMPLATE / "src/__module__/parse.py.tmpl").read_text(), values)
    (diff,) = code_blocks(PLUGINS, "diff")
    kept = [line[1:] for line in diff.splitlines() if line[:1] in (" ", "-")]
    assert kept
    for line in kept:
        assert line in source.splitlines(), f"tutorial diff: {line!r} is not in parse.py"


def test_tutorial_sample_matches_the_template() -> None:
    sample = (TEMPLATE / "examples/sample.jsonl.tmpl").read_text().splitlines()
    assert "examples/sample.jsonl" in PLUGINS
    records = [json.loads(line) for line in sample]
    # The tutorial says: two good records, and the third one fails for lack of a timestamp.
    assert ["timestamp" in record for record in records] == [True, True, False]


# ---------------------------------------------------------------------------- README


README = (DOCS.parent / "README.md").read_text()


def test_readme_install_line_works_from_a_clone() -> None:
    """The core is ``.`` in a clone (it is not on an index), and every built-in plugin is there."""
    lines = [
        shlex.split(line, comments=True)
        for block in code_blocks(README, "console")
        for line in block.replace("\\\n", " ").splitlines()
        if line.startswith("pip install") and "plugins/" in line
    ]
    assert len(lines) == 1
    words = lines[0][2:]
    assert words[0] == ".[embedded]"
    for word in words[1:]:
        assert (DOCS.parent / word / "pyproject.toml").exists(), word
    built_in = {f"plugins/{p.parent.name}" for p in DOCS.parent.glob("plugins/*/pyproject.toml")}
    assert built_in <= set(words), built_in - set(words)
