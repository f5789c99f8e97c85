"""Each case of the issue, through the installed entry point (no database)."""

from __future__ import annotations

import calendar
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import eml, raw

from cybexp_core import Attribute, InputError, PluginError
from cybexp_core.builders import sighting_event
from cybexp_core.indicators import normalize_url
from cybexp_core.testing import assert_filter_contract, load_filter, run_filter

FIXTURES = sorted(p.name for p in (__import__("helpers").DATA).glob("*.eml"))


def result_of(name_or_text: str, settings=None, **extra):
    text = eml(name_or_text) if name_or_text.endswith(".eml") else name_or_text
    return run_filter("email", raw(text, **extra), settings)


def event(result, sub_type="email"):
    (found,) = [i for i in result.instances if i.sub_type == sub_type]
    return found


def reasons(result):
    return " | ".join(f"{p.where}: {p.reason}" for p in result.problems)


def utc(*fields):
    return float(calendar.timegm(fields))


def test_contract_over_every_fixture():
    assert_filter_contract(
        "email",
        [raw(eml(name)) for name in FIXTURES],
        bad_documents=[raw(""), raw("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "\x00" * 64)],
    )


def test_declaration():
    info = load_filter("email").info
    assert info.id == "6e52bc6a-af7f-41ea-8684-e39c42d4aa3f"
    assert info.name == "email"
    assert [(c.itype, c.sub_type) for c in info.consumes] == [("raw", "email")]


def test_encoded_words_recipients_received_ip_and_html_body():
    result = result_of("html_encoded.eml")
    email = event(result)
    src = email.data["src"][0]
    assert src["name"] == ["Sécurité Banque"]
    # first public hop top-down: the private 10.1.2.3 hop is the receiver's own
    assert src["ipv4"] == ["93.184.216.77"]
    assert email.data["subject"] == ["Votre compte est bloqué"]
    assert sorted(d["email_addr"][0] for d in email.data["dst"]) == [
        "joerg@example.com", "ops@example.com", "victim@example.com",
    ]  # fmt: skip
    assert {"name": ["Jörg"], "email_addr": ["joerg@example.com"]} in email.data["dst"]
    body = email.data["body"][0]
    assert "Votre compte est bloqué !" in body and "Cliquez ici." in body
    assert "hidden title" not in body and "color:red" not in body and "var x" not in body
    # Date "-0000" (no zone information) is read as UTC
    assert email.timestamp == utc(2021, 6, 3, 11, 59, 40)
    indicators = event(result, "email_indicators")
    assert set(indicators.data["url"]) == {
        "http://login.bank-example.test/verify?u=1", "http://203.0.113.50/pixel.gif",
    }  # fmt: skip
    assert indicators.data["domain"] == ["login.bank-example.test"]
    assert indicators.data["ipv4"] == ["203.0.113.50"]


def test_internal_networks_setting_skips_the_receivers_relays():
    email = event(result_of("html_encoded.eml", {"internal_networks": ["93.184.216.77/32"]}))
    assert email.data["src"][0]["ipv4"] == ["93.184.216.7"]


def test_attachments_have_filename_and_sha256():
    result = result_of("attachment.eml")
    files = event(result, "email_indicators").data["file"]
    assert {
        "filename": ["facture n°1.pdf"],
        "sha256": [hashlib.sha256(b"Hello, attachment world!\n").hexdigest()],
    } in files
    form = b'<form action="https://collect.example.net/post.php"><input name=p></form>'
    assert {"filename": ["form.html"], "sha256": [hashlib.sha256(form).hexdigest()]} in files
    urls = set(event(result, "email_indicators").data["url"])
    assert urls == {"ftp://files.example.org/inv.zip", "https://collect.example.net/post.php"}
    assert event(result).data["body"] == [
        "Please see the attached invoice (ftp://files.example.org/inv.zip)."
    ]


def test_url_meets_the_same_url_from_a_feed():
    """A phishing URL in an email and in a feed sighting is one url attribute."""
    result = result_of("html_encoded.eml")
    indicators = event(result, "email_indicators")
    feed_url = Attribute("url", normalize_url("http://LOGIN.bank-example.test/verify?u=1"))
    feed_event = sighting_event([feed_url], "feed_org", 1.0, context="malicious")
    assert feed_url._hash in indicators._ref
    assert feed_url._hash in feed_event._ref
    email = event(result)
    assert indicators.data["email_event"] == [email._hash]


def test_broken_mime_is_recovered_and_reported():
    result = result_of("broken_boundary.eml")
    assert event(result).data["body"] == ["Visit our deal"]
    assert event(result, "email_indicators").data["url"] == ["http://promo.example.biz/deal"]
    assert "StartBoundaryNotFoundDefect" in reasons(result)


def test_lying_and_unknown_charsets():
    result = result_of("lying_charset.eml")
    assert event(result).data["body"] == ["Café crème brûlée"]
    assert event(result, "email_indicators").data["url"] == ["http://example.com/unknown"]
    text = reasons(result)
    assert "declared 'us-ascii' but the bytes are UTF-8" in text
    assert "unknown charset 'x-no-such-charset'; decoded as utf-8" in text


def test_latin1_file_is_decoded_with_its_declared_charset():
    # ingest stores a non-UTF-8 file as Latin-1 text with data.encoding = "latin-1"
    body = "Привет, мир".encode("koi8-r").decode("latin-1")
    text = f"From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=koi8-r\n\n{body}\n"
    result = run_filter("email", raw(text, encoding="latin-1"))
    assert event(result).data["body"] == ["Привет, мир\n"]


def test_missing_date_uses_the_latest_received_date():
    result = result_of("no_date.eml")
    email = event(result)
    assert email.timestamp == utc(2021, 6, 7, 10, 0, 0)
    assert "no Date header: event time is the latest Received date" in reasons(result)
    assert "subject" not in email.data
    assert email.data["dst"] == [{"email_addr": ["target@example.com"]}]


@pytest.mark.parametrize(
    ("prefix", "extra", "expected", "what"),
    [
        ("From x@example.org  Tue Sep 10 12:00:00 2002\n", {}, utc(2002, 9, 10, 12, 0, 0),
         "mbox 'From ' line"),
        ("", {"timestamp": 1234.5}, 1234.5, "data.timestamp"),
        ("", {}, 0.0, "1970-01-01T00:00:00Z"),
    ],
)  # fmt: skip
def test_date_fallbacks_are_deterministic(prefix, extra, expected, what):
    text = prefix + "From: a@example.org\nDate: not a date\nSubject: s\n\nbody\n"
    result = run_filter("email", raw(text, **extra))
    assert event(result).timestamp == expected
    assert "Date 'not a date' cannot be parsed" in reasons(result)
    assert what in reasons(result)


def test_timestamp_does_not_depend_on_the_host_timezone(tmp_path):
    script = textwrap.dedent("""
        import time
        from cybexp_core.testing import run_filter, make_raw
        text = "From: a@example.org\\nDate: Thu, 03 Jun 2021 11:59:40 -0000\\n\\nx\\n"
        doc = make_raw("email", {"data": text})
        print(time.tzname[0], run_filter("email", doc).instances[0].timestamp)
    """)
    stamps = set()
    for zone in ("UTC", "America/Los_Angeles", "Asia/Kolkata"):
        out = subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, "TZ": zone},
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        stamps.add(float(out[1]))
    assert stamps == {utc(2021, 6, 3, 11, 59, 40)}


def test_message_with_only_some_headers_still_gives_an_event():
    result = result_of("Subject: just a subject\n\n")
    assert event(result).data == {"subject": ["just a subject"], "body": [""]}
    assert "no From, To" in reasons(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the message is empty"),
        ("\n\r\n  \n", "the message is empty"),
        ("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "\x00" * 200, "OLE2 binary file"),
        ("\x7fELF\x02\x01\x01" + "\x00" * 200, "binary data"),
        ("just some words\nno headers at all\n", "no header fields"),
        ("Foo: bar\nBaz: qux\n\nnot mail", "none of the header fields of an email"),
    ],
)
def test_not_mail_fails_with_a_reason(text, message):
    with pytest.raises(InputError, match=message):
        run_filter("email", raw(text))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("From: a@b\n\nx", "data must be an object"),
        ({"data": 42}, "data.data must be the message text"),
        ({"text": "x"}, "data.data must be the message text"),
    ],
)
def test_wrong_document_shape_fails_with_a_reason(data, message):
    from cybexp_core.testing import make_raw

    with pytest.raises(InputError, match=message):
        run_filter("email", make_raw("email", data))


def test_hostile_headers_do_not_crash():
    # "From: foo@" makes the stdlib header parser raise IndexError
    text = "From: foo@\nTo: =?utf-8?b?!!!?= <x@example.com>, bar@\nSubject: =?x-bogus?q?a?=\n\nb\n"
    email = event(result_of(text))
    assert email.data["src"] == [{"email_addr": ["foo@"]}]
    assert {"email_addr": ["x@example.com"]} in [
        {k: v for k, v in d.items() if k == "email_addr"} for d in email.data["dst"]
    ]


def test_batch_smtp_envelope_is_stripped():
    text = "HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" + (
        "From: a@b.example\r\nTo: c@d.example\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    )
    email = event(result_of(text))
    assert email.data["subject"] == ["s"]
    assert email.data["body"] == ["hi\r\n"]


def test_body_is_bounded():
    text = "From: a@example.org\nSubject: s\n\n" + "x" * 5000 + "\n"
    result = run_filter("email", raw(text), {"max_body_chars": 1000})
    assert event(result).data["body"] == ["x" * 1000]
    assert "cut to 1,000" in reasons(result)


def test_attachment_past_the_parse_bound_is_still_hashed():
    payload = bytes(range(256)) * 400
    import base64

    text = (
        "From: a@example.org\nSubject: s\nContent-Type: multipart/mixed; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nsee http://example.org/x\n"
        "--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename=big.bin\n\n"
        + base64.encodebytes(payload).decode()
        + "--B\nContent-Type: text/plain\n\nlost part http://example.org/lost\n--B--\n"
    )
    result = run_filter("email", raw(text), {"max_message_chars": 2000})
    indicators = event(result, "email_indicators")
    assert indicators.data["file"] == [
        {"filename": ["big.bin"], "sha256": [hashlib.sha256(payload).hexdigest()]}
    ]
    assert indicators.data["url"] == ["http://example.org/x"]  # the part after the cut is lost
    assert "only the first" in reasons(result)


def test_split_file_parts():
    text = eml("attachment.eml")
    first = run_filter("email", raw(text, file="m.eml", part=1, parts=2))
    assert event(first).data["subject"] == ["invoice"]
    assert "split into 2 documents" in reasons(first)
    later = run_filter("email", raw("QUJD\n", file="m.eml", part=2, parts=2))
    assert later.instances == ()
    assert "continuation" in reasons(later)


@pytest.mark.parametrize(
    "settings",
    [{"max_urls": 0}, {"max_body_chars": "1"}, {"internal_networks": ["nope"]},
     {"received_ip": "yes"}],
)  # fmt: skip
def test_bad_settings_fail_at_load(settings):
    with pytest.raises(PluginError, match="email"):
        load_filter("email", settings)
