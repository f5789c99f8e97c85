"""URLs found in the message, as the ``url`` and host attributes every filter emits."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cybexp_core import Attribute, InputError, Problem
from cybexp_core.indicators import host_attribute, normalize_url, url_host

__all__ = ["find_urls", "url_attributes"]

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`{}|\\^\x00-\x1f\x7f]+", re.IGNORECASE)
_SCHEME = re.compile(r"(?:https?|ftp)://", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"
_CLOSERS = {")": "(", "]": "[", ">": "<"}


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence, not the URL (an unbalanced ``)``, a ``.``)."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])):
            url = url[:-1]
        else:
            break
    return url


def find_urls(texts: Iterable[str], links: Iterable[str]) -> list[str]:
    """URLs in ``texts`` and in HTML link targets ``links``, in order, without repeats."""
    found: dict[str, None] = {}
    for link in links:
        link = link.strip()
        if _SCHEME.match(link):
            found[link] = None
    for text in texts:
        for match in _URL.finditer(text):
            url = _trim(match.group(0))
            if url:
                found[url] = None
    return list(found)


def url_attributes(urls: Iterable[str], limit: int) -> tuple[list[Attribute], list[Problem]]:
    """``url`` attributes and their host (``domain``/``ipv4``/``ipv6``) attributes.

    URLs go through :func:`cybexp_core.indicators.normalize_url`, so a URL seen here
    hashes as the same URL in a PhishTank or OpenPhish feed.
    """
    children: dict[str, Attribute] = {}
    bad: list[str] = []
    count = 0
    skipped = 0
    for raw in urls:
        try:
            url = normalize_url(raw)
            host = host_attribute(url_host(url))
        except InputError:
            bad.append(raw)
            continue
        attribute = Attribute("url", url)
        if attribute._hash in children:
            continue
        if count >= limit:
            skipped += 1
            continue
        count += 1
        children[attribute._hash] = attribute
        children.setdefault(host._hash, host)
    problems = []
    if bad:
        shown = ", ".join(repr(u[:80]) for u in bad[:3])
        problems.append(Problem("urls", f"{len(bad)} malformed URL(s) skipped: {shown}"))
    if skipped:
        problems.append(
            Problem("urls", f"{skipped} URL(s) beyond the first {limit} skipped (setting max_urls)")
        )
    return list(children.values()), problems
