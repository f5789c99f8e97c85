"""Render an HTML body as plain text and collect the link targets in it (stdlib only)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["HtmlText", "render_html"]

#: Elements whose content is never shown to the reader.
_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})
#: Elements that start a new line of text.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
#: Attributes that hold a URL a reader can follow or a client loads.
_LINK_ATTRS = frozenset({"href", "src", "action", "background", "formaction"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_TAG = re.compile(r"<[^>]*>")
_HIDDEN_BLOCK = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_ATTR_LINK = re.compile(r"\b(href|src|action)\s*=\s*[\"']?([^\"'\s>]+)", re.I)


class HtmlText(HTMLParser):
    """Collects the visible text and the link attributes of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "body":  # an unclosed <head> or <title> ends here, as in browsers
            self._hidden = 0
        elif tag in _BLOCK:
            self.parts.append("\n")
        for name, value in attrs:
            if name in _LINK_ATTRS and value:
                self.links.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:  # <script/> has no content to hide
            for name, value in attrs:
                if name in _LINK_ATTRS and value:
                    self.links.append(value)
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def text(self) -> str:
        """The visible text: runs of spaces collapsed, at most one blank line in a row."""
        # _SPACES holds no line break: one substitution over the text is one per line.
        lines = (line.strip() for line in _SPACES.sub(" ", "".join(self.parts)).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _crude(source: str) -> tuple[str, list[str]]:
    """Tag stripping for the rare HTML that :class:`HTMLParser` gives up on."""
    body = _HIDDEN_BLOCK.sub(" ", source)
    links = [html.unescape(m.group(2)) for m in _ATTR_LINK.finditer(body)]
    parser = HtmlText()
    parser.parts.append(html.unescape(_TAG.sub("\n", body)))
    return parser.text(), links


def render_html(source: str) -> tuple[str, list[str]]:
    """Return ``(text, links)`` of an HTML document; never raises on malformed HTML."""
    parser = HtmlText()
    try:
        parser.feed(source)
        parser.close()
    except AssertionError:  # _markupbase rejects some "<![x[" sections
        return _crude(source)
    return parser.text(), parser.links
