"""The stdlib parser with policy ``default``, each header field parsed once per message.

The text is fed to the parser in one piece (``Parser.parsestr`` feeds it 8 KB at a
time; the feed parser's result does not depend on how the text is cut), and long runs
of base64 lines pass through it as one line each (:mod:`.base64_runs`).

``policy.default`` parses a header field's value into a structured object on every
access (``msg[name]``, ``msg.get``, ``get_content_type``, ``get_param``, ...), and the
feed parser itself asks for Content-Type and its boundary several times per part; its
header registry also builds a new class for every such parse. Parsing is a pure function
of the field's name and raw value, so here each ``(name, value)`` is parsed once per
message tree and each header class is built once: the objects, and so everything read
from them, are the ones ``policy.default`` gives.
"""

from __future__ import annotations

from email.feedparser import FeedParser
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.policy import EmailPolicy, default

from cybexp_filter_email.base64_runs import collapse, restore

__all__ = ["parse_message"]

_REGISTRY = HeaderRegistry()
#: Header class of each (lower-case) field name, as ``HeaderRegistry.__getitem__`` builds it.
_CLASSES: dict[str, type[BaseHeader]] = {}


def _header_class(name: str) -> type[BaseHeader]:
    key = name.lower()
    cls = _CLASSES.get(key)
    if cls is None:
        cls = _CLASSES[key] = _REGISTRY[key]
    return cls


class _ParsedOnce:
    """A ``header_factory`` that remembers each header it made (for one message tree)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        header = self._made.get(key)
        if header is None:
            header = self._made[key] = _header_class(name)(name, value)
        return header


def _policy() -> EmailPolicy:
    return default.clone(header_factory=_ParsedOnce())


def parse_message(text: str) -> Message:
    """``Parser(policy=default).parsestr(text)``, with header fields parsed once."""
    short, runs = collapse(text)
    parser = FeedParser(policy=_policy())
    parser.feed(short)
    message = parser.close()
    restore(message, runs)
    return message
