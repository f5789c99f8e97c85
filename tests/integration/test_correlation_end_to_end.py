"""Issue 8 end to end: mixed inputs, one ``run --once``, correlated across sources.

A Cowrie attacker address that is also the host of a PhishTank URL, and a URL in a
phishing email that OpenPhish also lists, must come out as ``correlation`` sessions
holding the events of both sources; ThreatRank then scores the email's indicators
from the OpenPhish listing, and ``related`` walks from either indicator to both sides.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from cybexp_core import Attribute, Raw, Session
from cybexp_core.app import App
from cybexp_core.backend import Archive
from cybexp_core.config import Settings
from cybexp_core.related_cli import related
from cybexp_core.testing import run_pipeline
from cybexp_filter_correlation.threatrank import update_scores

ATTACKER = "203.0.113.77"
PHISH_URL = f"http://{ATTACKER}/office365/login.html"
MAIL_URL = "https://secure-login.example.net/verify?acct=1"
FETCHED = 1763625600  # when the OpenPhish feed was fetched (its lines carry no time)

COWRIE = [
    {
        "eventid": "cowrie.session.connect",
        "session": "a1b2c3d4e5f6",
        "src_ip": ATTACKER,
        "src_port": 51234,
        "dst_ip": "10.0.0.5",
        "dst_port": 2222,
        "sensor": "lab-sensor-1",
        "protocol": "ssh",
        "timestamp": "2026-11-20T08:15:02.101000Z",
    },
    {
        "eventid": "cowrie.login.success",
        "session": "a1b2c3d4e5f6",
        "src_ip": ATTACKER,
        "sensor": "lab-sensor-1",
        "username": "root",
        "password": "Tr0ub4dor&3",
        "timestamp": "2026-11-20T08:15:04.120000Z",
    },
]
PHISHTANK_CSV = (
    "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n"
    f"9100001,{PHISH_URL},http://www.phishtank.com/phish_detail.php?phish_id=9100001,"
    "2026-11-19T22:10:05+00:00,yes,2026-11-19T22:40:00+00:00,yes,Microsoft\n"
)
OPENPHISH = f"http://198.51.100.23/login.php\n{MAIL_URL}\n"
EMAIL = f"""\
From: "Example Bank Security" <security@example-bank-alerts.example.com>
To: Alice Analyst <alice@victim.example>
Subject: Urgent: verify your account
Date: Thu, 20 Nov 2026 08:00:00 +0000
Message-ID: <20261120080000.12345@mailer.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Your account is locked. Verify it within 24 hours:
{MAIL_URL}
"""


def _raws() -> list[Raw]:
    return [
        *(Raw("cowrie", event, "honeynet-org") for event in COWRIE),
        Raw("phishtank_feed", {"data": PHISHTANK_CSV}, "feeds-org"),
        Raw("openphish_feed", {"data": OPENPHISH, "timestamp": FETCHED}, "feeds-org"),
        Raw("email", {"data": EMAIL}, "victim-org"),
    ]


def _events_of(archive: Archive, indicator: Attribute) -> dict[str, dict]:
    session = archive.collection.find_one({"_hash": Session("correlation", [indicator])._hash})
    assert session is not None, f"no correlation of {indicator.sub_type} {indicator.data}"
    members = set(session["_ref"]) - {indicator._hash}
    events = archive.collection.find({"_hash": {"$in": sorted(members)}, "itype": "event"})
    return {doc["_hash"]: doc for doc in events}


def test_mixed_inputs_correlate_in_one_run(archive: Archive) -> None:
    summary = run_pipeline(archive, _raws())

    for name in ("cowrie", "phishtank", "openphish", "email", "correlation"):
        stats = summary.filters[name]
        assert stats.failed == 0 and stats.processed > 0, (name, stats)
    events = archive.count({"itype": "event"})
    assert summary.filters["correlation"].processed == events  # every event, same run

    # the attacker address: the honeypot login and the PhishTank sighting of a URL on it
    by_ip = _events_of(archive, Attribute("ipv4", ATTACKER))
    pairs = {(d["sub_type"], d["orgid"]) for d in by_ip.values()}
    assert {("login", "honeynet-org"), ("sighting", "feeds-org")} <= pairs
    assert {orgid for _, orgid in pairs} == {"honeynet-org", "feeds-org"}
    phishtank = next(d for d in by_ip.values() if d["sub_type"] == "sighting")
    assert phishtank["category"] == "malicious"

    # the mail URL: the email's indicators and the OpenPhish sighting
    by_url = _events_of(archive, Attribute("url", MAIL_URL))
    assert {(d["sub_type"], d["orgid"]) for d in by_url.values()} == {
        ("email_indicators", "victim-org"),
        ("sighting", "feeds-org"),
    }
    # and the URL's host links the same two
    assert set(_events_of(archive, Attribute("domain", "secure-login.example.net"))) == set(by_url)

    # ThreatRank: the email's indicators get a score from the OpenPhish listing
    update_scores(archive.collection)
    indicators = next(d for d in by_url.values() if d["sub_type"] == "email_indicators")
    scored = archive.collection.find_one({"_hash": indicators["_hash"]})["threatrank"]
    assert scored["score"] > 0 and scored["paths"] >= 1 and not scored["seed"]
    seed = archive.collection.find_one({"_hash": phishtank["_hash"]})["threatrank"]
    assert seed["seed"] and seed["score"] == 1.0

    # related: from the URL, level 1 holds both sides
    app = App(Settings(mongo_url="mongodb://unused/"))
    app._archive = archive
    result = CliRunner().invoke(
        related, [MAIL_URL, "--level", "1", "--json"], obj=app, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    (level,) = json.loads(result.output)["levels"]
    assert level["sub_types"]["event/email_indicators"] == 1
    assert level["sub_types"]["event/sighting"] == 1
    assert level["orgids"] == {"victim-org": 1, "feeds-org": 1}
