"""``cybexp-analytics related`` over correlated events, against the real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from correlation_events import DAY, T0, login, sighting

from cybexp_core import Attribute, Session
from cybexp_core.app import App
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.related_cli import related

ATTACKER = "198.51.100.7"
URL = f"http://{ATTACKER}/office365/login.html"
LOGINS = 25  # more than TAHOE's 10 events per hop


@pytest.fixture
def world(
    archive: Archive, store: Callable[..., None], correlate: Callable[..., Any]
) -> dict[str, Any]:
    logins = [login(ATTACKER, "admin", f"Secret-{n:02d}!", ts=T0 + n * DAY) for n in range(LOGINS)]
    phish = sighting(
        Attribute("url", URL), Attribute("ipv4", ATTACKER), orgid="phishtank", malicious=True
    )
    store([*logins, phish])
    correlate()
    return {"logins": logins, "phish": phish}


@pytest.fixture
def ask(archive: Archive) -> Callable[..., Any]:
    app = App(Settings(mongo_url="mongodb://unused/"))
    app._archive = archive

    def invoke(*args: str, as_json: bool = True) -> Any:
        argv = [*args, "--json"] if as_json else list(args)
        result = CliRunner().invoke(related, argv, obj=app, catch_exceptions=False)
        if not as_json or result.exit_code != 0:
            return result
        return json.loads(result.output)

    return invoke


def all_rows(ask: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    first = ask(*args)
    rows = list(first["items"])
    for page in range(2, first["pages"] + 1):
        rows += ask(*args, "--page", str(page))["items"]
    return rows


def test_level_one_is_every_event_holding_the_value(ask: Any, world: dict[str, Any]) -> None:
    answer = ask(ATTACKER, "--level", "1")
    (start,) = answer["start"]
    assert (start["itype"], start["sub_type"], start["data"]) == ("attribute", "ipv4", ATTACKER)
    (level,) = answer["levels"]
    # all 26 events (no cap of 10), the attacker object, and the address's correlation
    assert level["itypes"] == {"event": LOGINS + 1, "object": 1, "session": 1}
    assert level["orgids"] == {"honeynet": LOGINS, "phishtank": 1}
    hashes = {row["hash"] for row in all_rows(ask, ATTACKER, "--level", "1")}
    expected = {e._hash for e in [*world["logins"], world["phish"]]}
    assert expected <= hashes
    assert Session("correlation", [Attribute("ipv4", ATTACKER)])._hash in hashes


def test_level_two_reaches_the_shared_url_and_its_correlation(
    ask: Any, world: dict[str, Any]
) -> None:
    answer = ask(ATTACKER)
    assert [lv["level"] for lv in answer["levels"]] == [1, 2]
    level2 = answer["levels"][1]["sub_types"]
    assert level2["attribute/url"] == 1
    assert level2["object/credential"] == LOGINS
    assert level2["attribute/method"] == 1  # one attribute, however many events hold it
    rows = all_rows(ask, ATTACKER)
    url_rows = [r for r in rows if r["sub_type"] == "url"]
    assert [(r["level"], r["data"]) for r in url_rows] == [(2, URL)]
    url_session = Session("correlation", [Attribute("url", URL)])._hash
    assert any(r["hash"] == url_session and r["level"] == 2 for r in rows)


def test_pages_cover_the_answer_once(ask: Any, world: dict[str, Any]) -> None:
    first = ask(ATTACKER, "--page-size", "10")
    total = first["total"]
    assert first["pages"] == -(-total // 10) and first["next_page"] == 2
    rows = all_rows(ask, ATTACKER, "--page-size", "10")
    assert len(rows) == total == len({r["hash"] for r in rows})
    assert [r["level"] for r in rows] == sorted(r["level"] for r in rows)
    last = ask(ATTACKER, "--page-size", "10", "--page", str(first["pages"]))
    assert last["next_page"] is None


def test_time_window_filters_events(ask: Any, world: dict[str, Any]) -> None:
    since, until = T0 + 3 * DAY, T0 + 7 * DAY
    answer = ask(ATTACKER, "--level", "1", "--since", str(since), "--until", "1970-01-01")
    assert answer["levels"][0]["itypes"].get("event") is None
    iso = "2020-05-05T00:00:00Z"  # T0 + 7 days
    answer = ask(ATTACKER, "--level", "1", "--since", str(since), "--until", iso)
    assert answer["levels"][0]["itypes"]["event"] == 5
    times = [
        r["timestamp"]
        for r in all_rows(
            ask, ATTACKER, "--level", "1", "--since", str(since), "--until", str(until)
        )
        if r["itype"] == "event"
    ]
    assert sorted(times) == [T0 + n * DAY for n in range(3, 8)]


def test_type_and_normalised_value(ask: Any, world: dict[str, Any]) -> None:
    shouted = f"HTTP://{ATTACKER}/office365/login.html"
    answer = ask(shouted, "--type", "url", "--level", "1")
    assert answer["start"][0]["data"] == URL
    assert answer["levels"][0]["itypes"]["event"] == 1
    assert ask(ATTACKER, "--type", "domain").exit_code == 1


def test_hubs_are_counted_not_walked(ask: Any, world: dict[str, Any]) -> None:
    answer = ask(ATTACKER, "--level", "3", "--max-degree", "5")
    cut = {(c["sub_type"], c["reason"]) for c in answer["levels"][1]["not_expanded"]}
    assert ("method", "more than 5 parents") in cut
    assert ("success", "more than 5 parents") in cut


def test_unknown_value_and_text_output(ask: Any, world: dict[str, Any]) -> None:
    missing = ask("198.51.100.250")
    assert missing.exit_code == 1 and "no instance holds the value" in missing.output
    text = ask(ATTACKER, "--level", "1", as_json=False)
    assert text.exit_code == 0
    assert f"level 1: {LOGINS + 3} (event {LOGINS + 1}, " in text.output
    assert "events by orgid: honeynet 25, phishtank 1" in text.output
