"""MIME fields in the simple forms read as the stdlib reads them, and parse when asked."""

from __future__ import annotations

import pickle
from email.headerregistry import HeaderRegistry
from email.parser import Parser
from email.policy import default
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cybexp_filter_email.mime_headers import plain_text, simple_text
from cybexp_filter_email.policy import _header_class, _ParsedOnce, parse_message

_REGISTRY = HeaderRegistry()
_FIELDS = ("content-type", "content-disposition", "content-transfer-encoding")
_TOKEN = "abcXYZ019!#$%&'*+-.^_`{|}~"


def stdlib(name: str, value: str) -> Any:
    return _REGISTRY[name](name, value)


tokens = st.text(alphabet=_TOKEN, min_size=1, max_size=6)
blanks = st.text(alphabet=" \t", max_size=2)
_NAME = _TOKEN.replace("*", "").replace("'", "").replace("%", "")
names = st.text(alphabet=_NAME, min_size=1, max_size=6)
bare = st.text(alphabet=_TOKEN.replace("*", "").replace("'", ""), min_size=1, max_size=8)
quoted = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\'),
    max_size=10,
).map(lambda text: f'"{text}"')
params = st.lists(
    st.tuples(blanks, names, blanks, blanks, st.one_of(bare, quoted), blanks),
    max_size=4,
    unique_by=lambda p: p[1].lower(),
).map(lambda items: "".join(f";{a}{n}{b}={c}{v}{d}" for a, n, b, c, v, d in items))
types = st.tuples(blanks, tokens, blanks, blanks, tokens, blanks).map(
    lambda t: f"{t[0]}{t[1]}{t[2]}/{t[3]}{t[4]}{t[5]}"
)
words = st.tuples(blanks, tokens, blanks).map("".join)
#: Fields and values in the simple forms (no ``=?``, which may start an encoded word).
simple_fields = st.one_of(
    st.tuples(st.just("content-type"), st.tuples(types, params).map("".join)),
    st.tuples(st.just("content-disposition"), st.tuples(words, params).map("".join)),
    st.tuples(st.just("content-transfer-encoding"), words),
).filter(lambda field: "=?" not in field[1])
#: Anything else such a field may hold, near the simple forms.
noise = st.text(alphabet=_TOKEN + ' \t;=/"()\\<>@,:?[]\u00e9', max_size=40)


@settings(max_examples=500)
@given(simple_fields)
def test_simple_forms_read_as_the_stdlib_writes_them(field):
    name, value = field
    header = stdlib(name, value)
    assert simple_text(name, value) == str(header)
    assert not header.defects


near_simple = st.tuples(simple_fields, noise).map(lambda t: t[0][1] + t[1])


@settings(max_examples=500)
@given(st.sampled_from(_FIELDS), st.one_of(noise, near_simple))
def test_other_values_are_left_to_the_stdlib(name, value):
    ours = simple_text(name, value)
    assert ours is None or ours == str(stdlib(name, value))


@settings(max_examples=500)
@given(
    st.sampled_from(["subject", "x-mailer", "comments"]),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=40),
)
def test_plain_unstructured_fields_are_their_own_text(name, value):
    ours = plain_text(value)
    if "=?" in value:
        assert ours is None
        return
    header = stdlib(name, value)
    assert ours == str(header)
    assert not header.defects


def test_encoded_words_and_other_text_are_left_to_the_stdlib():
    assert plain_text("=?utf-8?b?SGVsbG8=?=") is None
    assert plain_text("caf\u00e9") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content-type", 'text/plain; name="=?utf-8?B?YWJj?="'),  # an encoded word: decoded
        ("content-type", "text/plain; charset=a; Charset=b"),  # a name twice: one is kept
        ("content-type", "text/plain; name*0=a; name*1=b"),  # RFC 2231 sections
        ("content-type", "text/plain (a comment)"),
        ("content-disposition", 'attachment; filename="a b.txt"'),  # blanks in quotes
        ("content-type", "text/plain; charset=\u00e9"),
        ("content-type", "text/plain;"),
    ],
)
def test_forms_the_stdlib_rewrites_are_not_simple(name, value):
    assert simple_text(name, value) is None


def _state(header: Any) -> tuple[Any, ...]:
    read = {
        attr: getattr(header, attr)
        for attr in ("content_type", "maintype", "subtype", "content_disposition", "cte")
        if hasattr(type(header), attr)
    }
    return (
        type(header).__name__,
        header.name,
        str(header),
        [(type(d).__name__, str(d)) for d in header.defects],
        dict(getattr(header, "params", {})),
        read,
        header.fold(policy=default),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Type", 'multipart/mixed;\tboundary="----=_Part_1.2"'),
        ("content-type", "Text/HTML ; charset=UTF-8; format=flowed"),
        ("Content-Disposition", "attachment;filename=report.pdf"),
        ("Content-Transfer-Encoding", " Base64 "),
        ("Subject", "  Re: your  invoice\t"),
    ],
)
def test_a_deferred_header_is_the_stdlib_header_once_read(name, value):
    ours = _ParsedOnce()(name, value)
    theirs = _header_class(name)(name, value)
    assert "_pending" in vars(ours)  # not parsed yet
    assert isinstance(ours, type(theirs))
    assert _state(ours) == _state(theirs)
    assert "_pending" not in vars(ours)


def test_a_message_with_deferred_headers_pickles_as_the_stdlib_one():
    text = (
        "From: a@example.org\nSubject: hi\nContent-Type: multipart/mixed; boundary=X\n\n"
        "--X\nContent-Type: text/plain; charset=utf-8\n\nhello\n--X--\n"
    )
    ours = parse_message(text)
    for part in ours.walk():  # the deferred headers are made (and cached) by these reads
        part.get_content_type()
        part.get("subject")
    copy = pickle.loads(pickle.dumps(ours))
    plain = Parser(policy=default).parsestr(text)
    for mine, theirs in zip(copy.walk(), plain.walk(), strict=True):
        for name in ("content-type", "subject"):
            if name in theirs:
                assert _state(mine[name]) == _state(theirs[name])
