"""The simple-form address reader gives what the stdlib's address header gives, or None."""

from __future__ import annotations

from email.headerregistry import HeaderRegistry

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cybexp_filter_email.addresses import simple_addresses, unfolded

_REGISTRY = HeaderRegistry()
_ATEXT = "abcXYZ019!#$%&'*+-/=?^_`{|}~"


def stdlib(value: str) -> list[tuple[str, str]]:
    header = _REGISTRY["to"]("To", value)
    return [(a.display_name, a.addr_spec) for a in header.addresses]


atoms = st.text(alphabet=_ATEXT, min_size=1, max_size=4)
dot_atoms = st.lists(atoms, min_size=1, max_size=3).map(".".join)
addr_specs = st.tuples(dot_atoms, dot_atoms).map("@".join)
blanks = st.text(alphabet=" \t", max_size=2)
separators = st.text(alphabet=" \t", min_size=1, max_size=2)
phrases = st.tuples(atoms, st.lists(st.tuples(separators, atoms), max_size=2)).map(
    lambda t: t[0] + "".join(s + a for s, a in t[1])
)
qtext = st.text(
    alphabet=st.characters(
        min_codepoint=32, max_codepoint=126, exclude_characters='"\\', include_characters="\t"
    ),
    min_size=1,
    max_size=8,
)
mailboxes = st.one_of(
    addr_specs,
    st.tuples(blanks, addr_specs).map(lambda t: f"{t[0]}<{t[1]}>"),
    st.tuples(phrases, blanks, addr_specs).map(lambda t: f"{t[0]}{t[1]}<{t[2]}>"),
    st.tuples(qtext, blanks, addr_specs).map(lambda t: f'"{t[0]}"{t[1]}<{t[2]}>'),
)
#: Values in the simple forms: one or more mailboxes, blanks around them, commas between
#: (and no ``=?``, which could start an encoded word).
simple_values = (
    st.lists(st.tuples(blanks, mailboxes, blanks), min_size=1, max_size=3)
    .map(lambda items: ",".join(a + m + b for a, m, b in items))
    .filter(lambda value: "=?" not in value)
)
#: Anything else an address field may hold, near the simple forms.
noise = st.text(alphabet=_ATEXT + ' \t<>@,;:."()[]\\=?\u00e9', max_size=30)


@settings(max_examples=500)
@given(simple_values)
def test_simple_forms_read_as_the_stdlib_reads_them(value):
    ours = simple_addresses(value)
    assert ours is not None
    assert ours == stdlib(value)


@settings(max_examples=500)
@given(st.one_of(noise, st.tuples(simple_values, noise).map("".join)))
def test_a_value_read_here_reads_the_same_in_the_stdlib(value):
    ours = simple_addresses(value)
    if ours is not None:
        assert ours == stdlib(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "a@example.org,",  # an empty list element
        "a@example.org (A Name)",  # a comment
        "=?utf-8?q?A?= <a@example.org>",  # an encoded word
        '"a\\"b" <a@example.org>',  # an escape in a quoted string
        "undisclosed-recipients:;",  # a group
        "John Q. Public <a@example.org>",  # a period in the phrase
        "a@[127.0.0.1]",  # a domain literal
        "a@example.org <b@example.org>",  # an addr-spec as the display name
        "\u00e9@example.org",  # non-ASCII
        "a@example.org.",  # not a dot-atom
    ],
)
def test_other_forms_are_left_to_the_stdlib(value):
    assert simple_addresses(value) is None


def test_unfolded_drops_line_breaks_as_policy_default_does():
    assert unfolded("a@example.org,\r\n\tb@example.org,\n c@example.org\r") == (
        "a@example.org,\tb@example.org, c@example.org"
    )
