"""Header fields parsed once per message and the fast base64 path read what the stdlib reads."""

from __future__ import annotations

import base64
import hashlib
from email.message import Message
from email.parser import Parser
from email.policy import default
from typing import Any

import pytest
from helpers import DATA, eml, raw

from cybexp_core.testing import run_filter
from cybexp_filter_email.policy import parse_message

#: Identical header values in several parts and fields, names in other cases, encoded
#: words, RFC 2231 parameters, a comment in Content-Type and values the parser raises on.
REPEATS = """\
From: "A, B" <a@example.org>
To: x@example.com, =?utf-8?q?Y=C3=BF?= <y@example.com>
cc: x@example.com, =?utf-8?q?Y=C3=BF?= <y@example.com>
Comments: x@example.com, =?utf-8?q?Y=C3=BF?= <y@example.com>
TO: foo@
Reply-To: foo@
Subject: =?utf-8?b?SGVsbG8=?=
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain (a comment); charset="utf-8"

one
--b1
content-type: text/plain (a comment); charset="utf-8"
Content-Disposition: attachment; filename*=UTF-8''n%C2%B01.txt

two
--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain (a comment); charset="utf-8"

three
--b2
Content-Type: text/html; charset=utf-8
Content-Disposition: attachment; filename*=UTF-8''n%C2%B01.txt

<p>four</p>
--b2--
--b1
Content-Type: application/octet-stream; name==?x-bogus?q?a?=
Content-Disposition: inline; filename="a\\"b.bin"; filename="c.bin"

AAAA
--b1--
"""


def _read(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as exc:  # noqa: BLE001 - the stdlib raises on some hostile values
        return type(exc).__name__


def _header(value: Any) -> Any:
    addresses = getattr(value, "addresses", None)
    return (
        type(value).__name__,
        value.name,
        str(value),
        sorted(type(d).__name__ for d in value.defects),
        None if addresses is None else [(a.display_name, a.addr_spec) for a in addresses],
        getattr(value, "params", None) and dict(value.params),
    )


def _fetched(fetch: Any, name: str, value: str) -> Any:
    return _header(fetch(name, value))


def _summary(msg: Message) -> list[Any]:
    """What the filter reads of each part, read twice (the second read is the cached one)."""
    parts = []
    for part in msg.walk():
        fetch = part.policy.header_fetch_parse
        for _ in range(2):
            parts.append(
                (
                    [
                        (name, _read(_fetched, fetch, name, value))
                        for name, value in part.raw_items()
                    ],
                    [(name, _read(part.get_all, name)) for name in part],
                    part.get_content_type(),
                    part.get_content_maintype(),
                    _read(part.get_params),
                    _read(part.get_boundary),
                    _read(part.get_filename),
                    _read(part.get_content_disposition),
                    _read(part.get_content_charset),
                    sorted(type(d).__name__ for d in part.defects),
                    None if part.is_multipart() else part.get_payload(),
                )
            )
    return parts


@pytest.mark.parametrize(
    "text",
    [REPEATS, *(eml(p.name) for p in sorted(DATA.glob("*.eml")))],
    ids=["repeats", *(p.stem for p in sorted(DATA.glob("*.eml")))],
)
def test_parsed_once_reads_as_policy_default(text):
    ours = parse_message(text)
    assert _summary(ours) == _summary(Parser(policy=default).parsestr(text))


def test_repeated_address_fields_give_each_recipient_once():
    text = REPEATS.replace("TO: foo@\n", "")
    email = next(i for i in run_filter("email", raw(text)).instances if i.sub_type == "email")
    assert email.data["src"] == [{"name": ['"A, B"'], "email_addr": ["a@example.org"]}]
    assert email.data["dst"] == [
        {"email_addr": ["x@example.com"]},
        {"name": ["Y\xff"], "email_addr": ["y@example.com"]},
    ]
    assert email.data["reply_to"] == [{"email_addr": ["foo@"]}]
    assert email.data["subject"] == ["Hello"]


def test_base64_with_characters_outside_the_alphabet_hashes_the_decoded_bytes():
    payload = bytes(range(256)) * 3
    lines = base64.encodebytes(payload).decode().splitlines()
    # spaces, tabs, punctuation and non-ASCII letters are skipped, as the stdlib skips them
    noisy = "\r\n".join(f" {line[:7]}*\t{line[7:30]}é!{line[30:]} " for line in lines)
    text = (
        "From: a@example.org\nSubject: s\nContent-Type: multipart/mixed; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nhi\n"
        "--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment; filename=n.bin\n\n{noisy}\n--B--\n"
    )
    stdlib = Parser(policy=default).parsestr(text).get_payload()[1].get_payload(decode=True)
    assert stdlib == payload
    indicators = next(
        i for i in run_filter("email", raw(text)).instances if i.sub_type == "email_indicators"
    )
    assert indicators.data["file"] == [
        {"filename": ["n.bin"], "sha256": [hashlib.sha256(payload).hexdigest()]}
    ]
