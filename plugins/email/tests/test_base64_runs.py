"""Runs of base64 lines collapsed before the feed parser: the parsed message is the stdlib's."""

from __future__ import annotations

import base64
from email.message import Message
from email.parser import Parser
from email.policy import default
from typing import Any

import pytest
from helpers import DATA, eml
from hypothesis import given, settings
from hypothesis import strategies as st

from cybexp_filter_email.base64_runs import collapse
from cybexp_filter_email.policy import parse_message

_B64 = "ABCxyz0189+/="


def tree(msg: Message) -> list[Any]:
    """Everything the parser decided, part by part: headers, text, structure and defects."""
    return [
        (
            type(part).__name__,
            list(part.raw_items()),
            part._payload if isinstance(part._payload, str) else len(part._payload),
            part.preamble,
            part.epilogue,
            part.get_unixfrom(),
            part.get_content_type(),
            [type(d).__name__ for d in part.defects],
        )
        for part in msg.walk()
    ]


def stdlib(text: str) -> Message:
    return Parser(policy=default).parsestr(text)


def _lines(width: int, count: int, eol: str) -> str:
    return "".join("".join(_B64[(i + j) % len(_B64)] for j in range(width - 1)) + eol
                   for i in range(count))  # fmt: skip


eols = st.sampled_from(["\n", "\r\n"])
#: A boundary made of base64 characters: its delimiter lines can be as wide as a run's.
BOUNDARY = "ABCxyz0189ABCxyz"
runs = st.builds(
    lambda width, count, eol, tail, odd: _lines(width, count, eol) + tail + odd,
    st.one_of(st.sampled_from([19, 20, 21, 22]), st.integers(14, 80)),  # 19-22: delimiters
    st.integers(1, 40),
    eols,
    st.one_of(st.just(""), st.sampled_from(["QUJD\n", "QQ==\r\n", "QUJD"])),  # a last line
    st.one_of(
        st.just(""), st.sampled_from(["\r", "-", "\u00e9", "\x01", "AB\rCD\n", ":\n", " x\n"])
    ),
)
texts = st.sampled_from(["", "hello\n", "text, with: a colon\r\n", "\n", "\r", "x"])
headers = st.lists(
    st.sampled_from(
        [
            "Content-Type: application/octet-stream\n",
            "Content-Transfer-Encoding: base64\r\n",
            "Content-Type: message/rfc822\n",
            "Content-Type: message/delivery-status\n",
            f"Content-Type: multipart/mixed; boundary={BOUNDARY}\n",
            "Content-Type: multipart/alternative; boundary=C\n",
            "\tcontinued\n",
        ]
    ),
    max_size=3,
).map("".join)


@st.composite
def multiparts(draw: Any) -> str:
    """A multipart message whose parts hold runs, with delimiters right after them."""
    eol = draw(eols)
    text = [f"From: a@example.org{eol}Content-Type: multipart/mixed; boundary={BOUNDARY}{eol}"]
    text += [eol, draw(st.one_of(texts, runs))]
    for _ in range(draw(st.integers(0, 4))):
        text += [f"--{BOUNDARY}{draw(eols)}", draw(headers), draw(st.sampled_from([eol, ""]))]
        bodies = st.one_of(runs, texts, st.tuples(eols, runs).map("".join))
        text += draw(st.lists(bodies, max_size=3))
    text += [draw(st.sampled_from([f"--{BOUNDARY}--{eol}", f"--{BOUNDARY}--", ""]))]
    text += [draw(st.one_of(texts, runs))]
    return "".join(text)


fragments = st.one_of(
    runs,
    st.tuples(eols, runs).map("".join),  # a run after a blank line, as in a MIME part
    eols,  # a blank line
    st.sampled_from(
        [
            "From: a@example.org\n",
            "Subject: s\r\n",
            f"Content-Type: multipart/mixed; boundary={BOUNDARY}\n",
            "Content-Type: multipart/alternative; boundary=C\r\n",
            "Content-Type: message/rfc822\n",
            "Content-Type: message/delivery-status\n",
            "Content-Type: multipart/mixed\n",  # no boundary
            "Content-Transfer-Encoding: base64\n",
            "\tcontinued\n",
            "From someone Mon Jan  1 00:00:00 2024\n",
            f"--{BOUNDARY}\n",
            f"--{BOUNDARY}--\n",
            "--C\r\n",
            "--C--\r\n",
            "text, with: a colon\n",
            "\r",
        ]
    ),
)
messages = st.one_of(multiparts(), st.lists(fragments, max_size=24).map("".join))


@settings(max_examples=600, deadline=None)
@given(messages)
def test_collapsed_runs_parse_as_the_stdlib_parses_the_text(text):
    assert tree(parse_message(text)) == tree(stdlib(text))


def _attachment_message(eol: str) -> str:
    data = base64.encodebytes(bytes(range(256)) * 40).decode().replace("\n", eol)
    return eol.join(
        [
            "From: a@example.org",
            "Subject: s",
            'Content-Type: multipart/mixed; boundary="B"',
            "",
            "preamble",
            "--B",
            "Content-Type: text/plain",
            "",
            "hello",
            "--B",
            "Content-Type: application/octet-stream",
            "Content-Transfer-Encoding: base64",
            "",
            data + "--B--",
            "",
        ]
    )


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_an_attachment_passes_the_parser_as_one_line(eol):
    text = _attachment_message(eol)
    short, runs = collapse(text)
    assert len(runs) == 1
    assert short.count("\n") < 20 < text.count("\n")
    msg = parse_message(text)
    assert tree(msg) == tree(stdlib(text))
    assert msg.get_payload()[1].get_payload(decode=True) == bytes(range(256)) * 40


def test_text_holding_the_placeholder_character_is_parsed_as_it_is():
    text = _attachment_message("\n").replace("preamble", "pre\x01amble")
    assert collapse(text) == (text, [])
    assert tree(parse_message(text)) == tree(stdlib(text))


def _part(body: str, eol: str) -> str:
    return (
        f"From: a@example.org{eol}Content-Type: multipart/mixed; boundary={BOUNDARY}{eol}{eol}"
        f"--{BOUNDARY}{eol}Content-Transfer-Encoding: base64{eol}{eol}{body}"
    )


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize(
    "after",
    [
        f"--{BOUNDARY}{{eol}}x{{eol}}--{BOUNDARY}--{{eol}}",  # a delimiter as wide as the run
        f"--{BOUNDARY}--{{eol}}epilogue{{eol}}",  # the close delimiter, as wide
        "{eol}--C{eol}",  # a blank line
        "",  # the end of the text
        "QUJD",  # a last line without a line break
    ],
)
def test_a_run_ends_where_its_lines_end(eol, after):
    after = after.format(eol=eol)
    first = after.splitlines(keepends=True)[0] if after else ""
    width = len(first) if first.startswith("--") else 40  # a delimiter in the run's stride
    text = _part(_lines(width, 12, eol), eol) + after
    assert collapse(text)[1]
    assert tree(parse_message(text)) == tree(stdlib(text))


@pytest.mark.parametrize(
    "odd", ["AB\rCD", "AB\r\rCD", "\u00e9AB", "AB-CD", "AB CD", "AB:CD"], ids=repr
)
def test_a_line_with_another_character_or_break_is_no_part_of_a_run(odd):
    lines = _lines(41, 20, "\n").splitlines(keepends=True)
    lines[9] = odd + lines[9][len(odd) :]
    text = _part("".join(lines), "\n") + f"--{BOUNDARY}--\n"
    assert tree(parse_message(text)) == tree(stdlib(text))


def test_an_empty_line_in_a_run_still_ends_a_delivery_status_block():
    lines = _lines(41, 20, "\n").splitlines(keepends=True)
    lines[9] = "\r" + lines[9][1:]  # a lone CR at the start of a line: an empty line
    text = (
        "From: a@example.org\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; x\n\n" + "".join(lines) + "\nAction: failed\n"
    )
    assert tree(parse_message(text)) == tree(stdlib(text))


@pytest.mark.parametrize("path", sorted(DATA.glob("*.eml")), ids=lambda p: p.stem)
def test_fixtures_parse_as_the_stdlib_parses_them(path):
    text = eml(path.name)
    assert tree(parse_message(text)) == tree(stdlib(text))
