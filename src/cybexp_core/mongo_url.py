"""MongoDB URLs: checked before use, printed without credentials, read from a file.

The URL is split as the MongoDB connection-string format defines it
(``scheme://[userinfo@]hosts[/[db][?options]]``), by its delimiters, and the
rest is left to pymongo's own :mod:`pymongo.uri_parser`. Credentials are taken
to run up to the *last* ``@``, so a password holding ``@``, ``/``, ``?`` or a
space is never printed, whatever else is wrong with the URL.
"""

from __future__ import annotations

from pathlib import Path

from pymongo import uri_parser
from pymongo.errors import PyMongoError

from cybexp_core.errors import ConfigError

__all__ = ["check_url", "connection_reason", "read_url_file", "redact_url"]

_SCHEMES = ("mongodb://", "mongodb+srv://")
_MAX_REASON = 300


def _split(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, rest)``; the scheme is ``""`` when there is none."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", None, url
    userinfo, at, after = rest.rpartition("@")
    return scheme + sep, (userinfo if at else None), after


def redact_url(url: str | None) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``; safe to print or log."""
    scheme, userinfo, rest = _split(url or "")
    return f"{scheme}***@{rest}" if userinfo is not None else url or ""


def check_url(url: str, where: str = "the MongoDB URL") -> str:
    """``url`` stripped, or :class:`ConfigError` with one line that says what is wrong.

    The message never holds the credentials. ``mongodb+srv://`` host lists are
    resolved by the driver when it connects, not here.
    """
    text = url.strip()
    if not text.startswith(_SCHEMES):
        shown = redact_url(text)[:60] or "an empty string"
        raise ConfigError(f"{where} must start with mongodb:// or mongodb+srv://, not {shown!r}")
    scheme, userinfo, rest = _split(text)
    if userinfo is not None:
        bad = sorted({ch for ch in userinfo if ch in "/?#@"})
        if userinfo.count(":") > 1:
            bad.append(":")
        if bad:
            raise ConfigError(
                f"{where}: the user name or password (the part before the last '@') holds "
                f"{' '.join(repr(ch) for ch in bad)}, which must be percent-encoded "
                "(urllib.parse.quote_plus); an '@' in the options must be written %40"
            )
    if scheme == "mongodb://":
        stand_in = f"{scheme}user:password@{rest}" if userinfo is not None else text
        try:
            uri_parser.parse_uri(stand_in)
        except (PyMongoError, ValueError) as exc:
            raise ConfigError(f"{where} {redact_url(text)!r}: {exc}") from None
        if userinfo is not None:
            try:
                uri_parser.parse_uri(f"{scheme}{userinfo}@localhost/")
            except (PyMongoError, ValueError):
                raise ConfigError(
                    f"{where}: the user name or password has a '%' that is not a valid "
                    "percent escape (use urllib.parse.quote_plus)"
                ) from None
    return text


def read_url_file(path: str | Path) -> str:
    """The MongoDB URL held in the file ``path`` (surrounding whitespace removed)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read the MongoDB URL file {path}: {reason}") from None
    if not text:
        raise ConfigError(f"the MongoDB URL file {path} is empty")
    return check_url(text, f"the MongoDB URL in {path}")


def connection_reason(exc: Exception) -> str:
    """Why the driver could not connect, whole but without its timeouts and topology dump.

    pymongo writes ``host: reason (configured timeouts: ...),host2: ...,
    Timeout: 30s, Topology Description: <...>``; this keeps each host's reason
    and the timeout, and cuts at a word boundary if it is still long.
    """
    text = str(exc)
    head, sep, tail = text.partition(", Timeout: ")
    timeout = tail.split(",", 1)[0] if sep else ""
    cleaned = _drop_parenthesised(head, "(configured timeouts:")
    reasons = [part.strip() for part in cleaned.split(",") if part.strip()]
    reason = "; ".join(reasons) or type(exc).__name__
    if timeout:
        reason += f" (gave up after {timeout})"
    if len(reason) > _MAX_REASON:
        reason = reason[:_MAX_REASON].rsplit(" ", 1)[0] + " ..."
    return reason


def _drop_parenthesised(text: str, opening: str) -> str:
    """``text`` without each ``(...)`` group that starts with ``opening``, nesting respected."""
    out, index = [], 0
    while (start := text.find(opening, index)) >= 0:
        out.append(text[index:start].rstrip())
        depth, pos = 0, start
        for pos in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[pos], 0)
            if depth == 0:
                break
        index = pos + 1
    out.append(text[index:])
    return "".join(out)
