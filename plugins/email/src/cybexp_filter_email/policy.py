"""The stdlib parser with policy ``default``, each header field parsed once per message.

``policy.default`` parses a header field's value into a structured object on every
access (``msg[name]``, ``msg.get``, ``get_content_type``, ``get_param``, ...), and the
feed parser itself asks for Content-Type and its boundary several times per part; its
header registry also builds a new class for every such parse. Parsing is a pure function
of the field's name and raw value, so here each ``(name, value)`` is parsed once per
message tree and each header class is built once: the objects, and so everything read
from them, are the ones ``policy.default`` gives.
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import Parser
from email.policy import EmailPolicy, default

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
    return Parser(policy=_policy()).parsestr(text)
