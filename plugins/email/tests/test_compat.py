"""For mail the original handled, the email event is the original's, hash for hash."""

from __future__ import annotations

import pytest
from helpers import eml, original_email_event, raw

from cybexp_core.testing import run_filter

SIMPLE = """\
From: {frm}
To: {to}
Subject: {subject}
Date: {date}
{extra}Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

{body}
"""


def by_type(result, sub_type):
    return [i for i in result.instances if i.sub_type == sub_type]


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("mailgun_plain.eml", {}),  # the provider header gives the sending IP, as before
        ("plain_no_url.eml", {"received_ip": False}),  # no provider header, strict mode
    ],
)
def test_email_event_equals_original(name, settings):
    text = eml(name)
    expected = original_email_event(text, "ABC123")
    result = run_filter("email", raw(text, "ABC123"), settings)
    (email,) = by_type(result, "email")
    assert email._hash == expected._hash
    assert email.data == expected.data
    assert email.timestamp == expected.timestamp


@pytest.mark.parametrize(
    ("frm", "to", "extra"),
    [
        ("bob@example.net", "alice@example.com", ""),
        ("Bob Smith <bob@example.net>", "<alice@example.com>", ""),
        ('"Smith, Bob" <bob@example.net>', "Alice A. <alice@example.com>", ""),
        ("B <bob@example.net>", "alice@example.com", "Reply-To: rt@example.net\n"),
        ("b@example.net", "a@example.com", "X-Mailgun-Sending-Ip: 93.184.216.34\n"),
        ("=?utf-8?q?Bj=C3=B6rn?= <b@example.net>", "a@example.com", ""),
    ],
)
def test_simple_shapes_equal_original(frm, to, extra):
    """No Received field: the default settings give the original's event."""
    text = SIMPLE.format(
        frm=frm, to=to, subject="=?utf-8?q?r=C3=A9union?=", extra=extra,
        date="Mon, 7 Jun 2021 10:00:00 +0200", body="Meeting moved to 3pm.",
    )  # fmt: skip
    expected = original_email_event(text, "org")
    (email,) = by_type(run_filter("email", raw(text, "org")), "email")
    assert email._hash == expected._hash


def test_urls_and_attachments_do_not_change_the_email_event():
    """The body holds a URL: the original's event is kept as is, the URL goes into
    the companion email_indicators event, which points at the email event."""
    text = eml("mailgun_plain.eml")
    result = run_filter("email", raw(text))
    (email,) = by_type(result, "email")
    (companion,) = by_type(result, "email_indicators")
    assert email._hash == original_email_event(text, "test_org")._hash
    assert companion.data["email_event"] == [email._hash]
    assert companion.timestamp == email.timestamp
    assert companion.data["url"] == ["https://jobs.example.org/c/eJw9jk?id=42&src=mail"]


def test_mail_without_urls_or_attachments_gives_only_the_email_event():
    result = run_filter("email", raw(eml("plain_no_url.eml")))
    assert [i.sub_type for i in result.instances] == ["email"]


def test_received_ip_is_the_one_documented_default_deviation():
    """By default a message without the provider header gets its sending IP from
    Received, so its event differs from the original's only by that ipv4."""
    text = eml("plain_no_url.eml")
    (email,) = by_type(run_filter("email", raw(text)), "email")
    original = original_email_event(text, "test_org")
    assert email.data["src"] == [{**original.data["src"][0], "ipv4": ["93.184.216.9"]}]
    assert {k: v for k, v in email.data.items() if k != "src"} == {
        k: v for k, v in original.data.items() if k != "src"
    }
