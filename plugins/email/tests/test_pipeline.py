"""End to end against the real server: raw documents in, run --once, the archive checked."""

from __future__ import annotations

from helpers import DATA, eml, raw

from cybexp_core import Attribute
from cybexp_core.builders import sighting_event
from cybexp_core.indicators import normalize_url
from cybexp_core.testing import load_filter, run_pipeline

FID = "6e52bc6a-af7f-41ea-8684-e39c42d4aa3f"


def test_every_fixture_processed_and_bad_input_failed_with_reasons(archive):
    good = [raw(eml(p.name)) for p in sorted(DATA.glob("*.eml"))]
    empty = raw("")
    binary = raw("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "\x00" * 100)
    continuation = raw("QUJD\n", file="m.eml", part=2, parts=2)
    summary = run_pipeline(archive, [*good, empty, binary, continuation], filters=["email"])
    stats = summary.filters["email"]
    assert (stats.processed, stats.failed) == (len(good) + 1, 2)
    coll = archive.collection
    failures = {f.hash: f.record for f in archive.failures(FID)}
    for doc, why in ((empty, "the message is empty"), (binary, "OLE2 binary file")):
        assert why in failures[doc["_hash"]]["message"]
    problems = {p["_hash"]: p for p in archive.problems(FID)}
    assert "continuation" in str(problems[continuation["_hash"]])
    assert coll.count_documents({"itype": "event", "sub_type": "email"}) == len(good)
    assert "latest Received date" in str(problems[raw(eml("no_date.eml"))["_hash"]])


def test_email_url_and_feed_url_meet_in_the_archive(archive):
    """The email's URL attribute is the one a feed sighting of the same URL refers to."""
    run_pipeline(archive, [raw(eml("html_encoded.eml"))], filters=["email"])
    url = Attribute("url", normalize_url("http://login.bank-example.test/verify?u=1"))
    archive.write_instances([sighting_event([url], "feed", 1.0, context="malicious")])
    events = list(archive.collection.find({"itype": "event", "_ref": url._hash}))
    assert sorted(e["sub_type"] for e in events) == ["email_indicators", "sighting"]
    companion = next(e for e in events if e["sub_type"] == "email_indicators")
    email = archive.collection.find_one({"_hash": companion["data"]["email_event"][0]})
    assert email["sub_type"] == "email"
    assert email["data"]["subject"] == ["Votre compte est bloqué"]


def test_the_event_names_its_raw_document(archive):
    doc = raw(eml("mailgun_plain.eml"))
    run_pipeline(archive, [doc], filters=["email"])
    email = archive.collection.find_one({"itype": "event", "sub_type": "email"})
    assert email["_from"] == [doc["_hash"]]
    info = load_filter("email").info
    assert archive.progress(info.id, info.consumes).processed == 1
