"""The fast paths (simple addresses, collapsed base64 runs, one feed) change no output."""

from __future__ import annotations

import base64
from email.parser import Parser
from typing import Any

import pytest
from helpers import DATA, eml, raw
from test_parse_once import REPEATS

import cybexp_filter_email.content
import cybexp_filter_email.headers
import cybexp_filter_email.message
import cybexp_filter_email.policy
from cybexp_core.models import flatten
from cybexp_core.testing import run_filter

_DATA = base64.encodebytes(bytes(range(256)) * 30).decode()
#: Address fields in simple forms and others, an attachment, a broken multipart.
ADDRESSES = f"""\
From: Some Name <a@example.org>
To: <b@example.org>, "Last, First" <c@example.org>,
 d@example.org, Tab\tName <e@example.org>
Cc: =?utf-8?q?Y=C3=BF?= <f@example.org>, g@example.org (a comment)
Cc: undisclosed-recipients:;
Reply-To: "A \\"quoted\\" name" <h@example.org>
Subject: addresses
Date: Mon, 1 Jan 2024 00:00:00 +0000
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/plain

See http://example.com/a and <mailto:i@example.org>.
--B
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: base64

{_DATA}--B
Content-Type: multipart/alternative; boundary="lost"

--other
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

{_DATA}
--B--
"""

TEXTS = {
    "addresses": ADDRESSES,
    "addresses_crlf": ADDRESSES.replace("\n", "\r\n"),
    "no_to": ADDRESSES.replace("To: <b@example.org>", "X-To: <b@example.org>"),
    "repeats": REPEATS,
    **{path.stem: eml(path.name) for path in sorted(DATA.glob("*.eml"))},
}


def _outputs(text: str) -> Any:
    result = run_filter("email", raw(text), {"max_message_chars": 1 << 20})
    return [i.doc for i in flatten(result.instances)], [repr(p) for p in result.problems]


def _old_parse(text: str) -> Any:
    return Parser(policy=cybexp_filter_email.policy._policy()).parsestr(text)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_fast_paths_give_the_documents_of_the_stdlib_paths(name, monkeypatch):
    text = TEXTS[name]
    fast = _outputs(text)
    monkeypatch.setattr(cybexp_filter_email.headers, "simple_addresses", lambda value: None)
    monkeypatch.setattr(cybexp_filter_email.message, "parse_message", _old_parse)
    monkeypatch.setattr(cybexp_filter_email.content, "parse_message", _old_parse)
    assert _outputs(text) == fast


def test_the_fixture_takes_the_fast_paths():
    message = cybexp_filter_email.policy.parse_message(ADDRESSES)
    assert cybexp_filter_email.headers._simple_pairs(message, "to") is not None
    assert cybexp_filter_email.headers._simple_pairs(message, "cc") is None
    assert len(cybexp_filter_email.policy.collapse(ADDRESSES)[1]) == 2
