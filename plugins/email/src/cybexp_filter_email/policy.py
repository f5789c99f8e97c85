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

A MIME field in the simple forms, or an unstructured one in plain ASCII
(:mod:`.mime_headers`), is not parsed until something
other than its text is read from it (``params``, ``content_disposition``, ...): its
object is the string ``policy.default`` gives, of the same header class, and parses
itself on that first read.
"""

from __future__ import annotations

from email.feedparser import FeedParser
from email.headerregistry import (
    BaseHeader,
    HeaderRegistry,
    UnstructuredHeader,
    _reconstruct_header,
)
from email.message import Message
from email.policy import EmailPolicy, default

from cybexp_filter_email.base64_runs import collapse, restore
from cybexp_filter_email.mime_headers import plain_text, simple_text

__all__ = ["parse_message"]

_REGISTRY = HeaderRegistry()
#: Header class of each (lower-case) field name, as ``HeaderRegistry.__getitem__`` builds it.
_CLASSES: dict[str, type[BaseHeader]] = {}
#: The deferred subclass of each header class (see :class:`_Deferred`).
_DEFERRED: dict[type[BaseHeader], type[BaseHeader]] = {}


def _header_class(name: str) -> type[BaseHeader]:
    key = name.lower()
    cls = _CLASSES.get(key)
    if cls is None:
        cls = _CLASSES[key] = _REGISTRY[key]
    return cls


class _Deferred:
    """A header object whose string is known: the field's value is parsed (as its class
    parses it) the first time an attribute other than the string's is read, and the
    object then holds what that parse gives."""

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        state = vars(self)
        pending = state.pop("_pending", None)
        if pending is None:
            raise AttributeError(attr)
        cls, value = pending
        state.update(vars(cls(state["_name"], value)))
        return getattr(self, attr)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle as the header ``policy.default`` makes (parsed first, if not yet)."""
        self._parse_tree  # noqa: B018 - read to parse: the state is then complete
        parsed = type(self).__bases__[1]
        return _reconstruct_header, (parsed.__name__, parsed.__bases__, str(self)), vars(self)


def _deferred(cls: type[BaseHeader], name: str, value: str, text: str) -> BaseHeader:
    """The header of class ``cls`` for field ``name`` and ``value``, whose string is
    ``text``, parsed when first needed (an instance of a subclass of ``cls``)."""
    deferred = _DEFERRED.get(cls)
    if deferred is None:
        deferred = _DEFERRED[cls] = type(cls.__name__, (_Deferred, cls), {})
    header = str.__new__(deferred, text)
    vars(header).update(_name=name, _pending=(cls, value))
    return header


class _ParsedOnce:
    """A ``header_factory`` that remembers each header it made (for one message tree)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        header = self._made.get(key)
        if header is None:
            cls = _header_class(name)
            if issubclass(cls, UnstructuredHeader):
                text = plain_text(value)
            else:
                text = simple_text(name.lower(), value)
            header = cls(name, value) if text is None else _deferred(cls, name, value, text)
            self._made[key] = header
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
