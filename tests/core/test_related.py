"""``cybexp-analytics related`` in the core: the walk of ``_ref`` through any instances, its output.

No plugin is installed here: the instances are written as a filter would write them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cybexp_core import Attribute, Event, Session
from cybexp_core.app import App
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.plugins import load_filters
from cybexp_core.related_cli import MAX_TEXT_CHARS, related
from fakes import entry_point

IP = "203.0.113.9"
LONG = "A" * 200_000
T0 = 1_700_000_000.0


@pytest.fixture
def ask(archive: Archive) -> Callable[..., Result]:
    ip = Attribute("ipv4", IP)
    events = [
        Event("sighting", [ip, Attribute("payload", LONG)], "org_a", T0, category="malicious"),
        Event("sighting", [ip, Attribute("port", 22)], "org_b", T0 + 86400),
        Event("login", [ip, Attribute("shell_command", "uname -a")], "org_b", T0),
    ]
    archive.write_instances([*events, Session("by_ip", [ip], events=[e._hash for e in events])])
    app = App(Settings(mongo_url="mongodb://unused/"))
    app._archive = archive

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(related, list(args), obj=app, catch_exceptions=False)

    return invoke


def test_level_one_is_the_events_and_sessions_holding_the_value(ask: Any) -> None:
    answer = json.loads(ask(IP, "--level", "1", "--json").output)
    first = answer["levels"][0]
    assert first["count"] == 4
    assert first["itypes"] == {"event": 3, "session": 1}
    assert first["orgids"] == {"org_a": 1, "org_b": 2}


def test_values_are_tried_as_the_indicator_types_the_filters_declare(
    archive: Archive, ask: Any
) -> None:
    assert ask("uname -a", "--json").exit_code == 1  # no filter declares shell_command
    app = App(Settings(mongo_url="mongodb://unused/"))
    app._archive = archive
    app._report = load_filters(entry_points_=[entry_point("withcommand", "fakes:with_command")])
    found = CliRunner().invoke(related, ["uname -a", "--level", "1", "--json"], obj=app)
    assert found.exit_code == 0
    assert json.loads(found.output)["start"][0]["sub_type"] == "shell_command"


def test_a_long_value_is_cut_in_text_and_whole_in_json(ask: Any) -> None:
    text = ask(IP, "--level", "2").output
    assert LONG not in text
    assert '"' + "A" * MAX_TEXT_CHARS + '..." (200,000 characters' in text
    assert max(len(line) for line in text.splitlines()) < MAX_TEXT_CHARS + 200
    rows = json.loads(ask(IP, "--level", "2", "--json", "--page-size", "500").output)["items"]
    assert LONG in [row.get("data") for row in rows]


def test_an_absent_value_with_json_prints_a_json_error(ask: Any) -> None:
    result = ask("198.51.100.250", "--json")
    assert result.exit_code == 1
    error = json.loads(result.output)
    assert error["error"] == "no instance holds the value '198.51.100.250'"
    assert error["value"] == "198.51.100.250"


def test_a_bad_time_names_its_option(ask: Any) -> None:
    result = ask(IP, "--since", "yesterday")
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output
