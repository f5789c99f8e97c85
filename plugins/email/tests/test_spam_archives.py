"""Email as spam archives store it: mixed line endings, ``Header:value``, an empty From,
encoded-words and RFC 2231 in attachment filenames. Read as a mail client would."""

from __future__ import annotations

import hashlib

import pytest
from helpers import DATA, raw

from cybexp_core import Consumes, Raw
from cybexp_core.testing import run_filter, run_pipeline

FID = "6e52bc6a-af7f-41ea-8684-e39c42d4aa3f"


def exact(name: str) -> str:
    """The fixture's text with its line endings as they are (no newline translation)."""
    return (DATA / name).read_bytes().decode("utf-8")


def by_type(result, sub_type):
    (found,) = [i for i in result.instances if i.sub_type == sub_type]
    return found


def test_the_fixture_really_mixes_line_endings():
    text = exact("spam_archive_mixed_endings.eml")
    assert "\r\n" in text and "\n" in text.replace("\r\n", "")


def test_mixed_endings_no_space_and_an_empty_from():
    result = run_filter("email", raw(exact("spam_archive_mixed_endings.eml")))
    email = by_type(result, "email")
    assert email.data["src"] == [{"ipv4": ["93.184.216.34"]}]  # the sender's hop is kept
    assert email.data["dst"] == [{"email_addr": ["victim@example.com"]}]
    assert email.data["subject"] == ["Your parcel is waiting for you ✉"]
    assert "\r" not in email.data["subject"][0]
    assert email.timestamp == 1783998760.0  # Date:Tue, 14 Jul 2026 03:12:40 +0000
    assert email.data["body"] == [
        "Pay the customs fee at http://parcel-fee.example.net/track?id=77 today.\r\n"
    ]
    assert by_type(result, "email_indicators").data["url"] == [
        "http://parcel-fee.example.net/track?id=77"
    ]
    assert [(p.where, p.reason) for p in result.problems] == [("headers", "no From")]


def test_the_same_message_with_lf_endings_gives_the_same_event():
    text = exact("spam_archive_mixed_endings.eml")
    lf = run_filter("email", raw(text.replace("\r\n", "\n")))
    mixed = run_filter("email", raw(text))
    body = ["Pay the customs fee at http://parcel-fee.example.net/track?id=77 today.\n"]
    assert {**by_type(mixed, "email").data, "body": body} == by_type(lf, "email").data


@pytest.mark.parametrize("sender", ["From:", "From: ", "From: <>", 'From: "" <>'])
def test_an_empty_or_null_sender_is_no_src(sender):
    rest = "To: a@example.com\r\nSubject: s\r\nDate: Mon, 7 Jun 2021 10:00:00 +0000\r\n\r\nb\r\n"
    text = f"{sender}\r\n{rest}"
    result = run_filter("email", raw(text))
    assert "src" not in by_type(result, "email").data
    assert [(p.where, p.reason) for p in result.problems] == [("headers", "no From")]


def test_attachment_filenames_as_a_mail_client_shows_them():
    result = run_filter("email", raw(exact("encoded_filenames.eml")))
    files = by_type(result, "email_indicators").data["file"]
    expected = [
        ("Rechnung N°1.pdf", b"first"),  # RFC 2047 inside a quoted filename
        ("façture impayée.doc", b"second"),  # RFC 2047 unquoted in Content-Type's name
        ("Счет №2.zip", b"third"),  # RFC 2231 with continuations
        ("résumé.csv", b"fourth"),  # RFC 2231 with a charset
        ("=?utf-8?B?notbase64", b"fifth"),  # a broken encoded-word is kept as written
    ]
    # Stored in canonical order (sorted like the hash), not in the message's order.
    assert sorted(files, key=lambda f: f["filename"]) == sorted(
        ({"filename": [name], "sha256": [hashlib.sha256(payload).hexdigest()]}
         for name, payload in expected),
        key=lambda f: f["filename"],
    )
    assert result.problems == ()


def test_spam_archive_fixtures_through_the_runner(archive):
    documents = [
        Raw("email", {"data": exact(name)}, "org")
        for name in ("spam_archive_mixed_endings.eml", "encoded_filenames.eml")
    ]
    summary = run_pipeline(archive, documents, filters=["email"])
    stats = summary.filters["email"]
    assert (stats.processed, stats.failed, stats.problems) == (2, 0, 1)
    coll = archive.collection
    assert archive.progress(FID, [Consumes.raw("email")]).processed == 2
    assert coll.count_documents({"itype": "attribute", "sub_type": "filename"}) == 5
