"""Plain text from the HTML part of an email, for its text part.

The conversion runs once, on the template source, when a template is compiled: Jinja tags
are carried through untouched (comments are dropped), so the result is the text part's
template and each message costs one more render, not one more HTML parse. It works on plain
HTML just the same.

The text is meant to be read: paragraphs and headings become blank-line separated blocks,
list items "- " lines, table cells are separated by spaces, images leave their alt text, and
a link keeps its URL after its label: "Shop now (https://shop.example.com/)".
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Around the URLs of a generated text part (see html_to_text's mark_links).
# Control characters that HTML and text never contain, and within Latin-1: a character above
# U+00FF would make Python store the whole message two bytes per character, and every string
# operation on it slower.
LINK_START, LINK_END = "\x02", "\x03"

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# Jinja tags are swapped for private-use characters while the HTML is parsed.
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_STATEMENT_SPLIT = re.compile("(\ue000\\d+\ue001)")
_DOUBLE_SPACES = re.compile(r"  +")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")

_SKIP = frozenset({"head", "style", "script", "title", "template", "noscript"})
_PARAGRAPH = frozenset(
    "p h1 h2 h3 h4 h5 h6 table ul ol dl blockquote pre address figure form header footer section article main "
    "nav aside".split()
)
_LINE = frozenset({"div", "tr", "li", "dt", "dd", "center", "figcaption"})


def html_to_text(html: str, *, mark_links: bool = False) -> str:
    """Readable text for the HTML part `html` (a template or plain HTML).

    With mark_links, each link's URL is written between LINK_START and LINK_END, so that a
    render can track the links of the generated text without searching it for URLs (see
    links.LinkTracker.marked_text), which removes the marks."""
    protected, tags = protect_jinja(html)
    parser = _TextParser({i for i, tag in enumerate(tags) if tag.startswith("{%")}, mark_links)
    parser.feed(protected)
    parser.close()
    return restore_jinja(parser.result(), tags)


def protect_jinja(source: str) -> tuple[str, list[str]]:
    """The template source with each Jinja tag replaced by a placeholder that HTML parsing
    leaves alone (comments dropped), and the tags, for restore_jinja."""
    tags: list[str] = []

    def protect(match: re.Match[str]) -> str:
        tag = match.group()
        if tag.startswith("{#"):
            return ""
        tags.append(tag)
        return f"\ue000{len(tags) - 1}\ue001"

    return _JINJA_TAG.sub(protect, source), tags


def restore_jinja(text: str, tags: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda match: tags[int(match.group(1))], text)


def tidy_text(text: str) -> str:
    """Text without spaces around line breaks and without runs of blank lines (which
    conditional blocks and empty values leave behind in a generated text part)."""
    if "\n\n\n" in text or " \n" in text or "\n " in text:
        text = _BLANK_LINES.sub("\n\n", _LINE_EDGES.sub("\n", text))
    return text.strip()


class _TextParser(HTMLParser):
    def __init__(self, statements: set[int], mark_links: bool):
        super().__init__(convert_charrefs=True)
        self.statements = statements  # placeholders that stand for {% %} tags
        self.mark_links = mark_links
        self.out: list[str] = []
        self.pending = 0  # line breaks owed before the next text: 1 for a line, 2 for a block
        self.skipping = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []  # (href, where its label starts in out)

    def _break(self, lines: int) -> None:
        self.pending = max(self.pending, lines)

    def _emit(self, text: str) -> None:
        if self.pending:
            self.out.append("\n" * self.pending)
            self.pending = 0
        self.out.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
            return
        attributes = dict(attrs)
        if tag in _PARAGRAPH:
            self._break(2)
            self.pre += tag == "pre"
        elif tag == "li":
            self._break(1)
            self._emit("- ")
        elif tag in _LINE:
            self._break(1)
        elif tag == "br":
            self._emit("\n")
        elif tag == "hr":
            self._break(2)
            self._emit("----")
            self._break(2)
        elif tag in ("td", "th"):
            self._emit(" ")
        elif tag == "img" and attributes.get("alt"):
            self._emit(f" {attributes['alt']} ")
        elif tag == "a":
            self._emit("")  # the line breaks owed go before the label, not into it
            self.links.append((attributes.get("href"), len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _PARAGRAPH:
            self._break(2)
            self.pre -= tag == "pre" and self.pre > 0
        elif tag in _LINE:
            self._break(1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            self._close_link(href, start)

    def _close_link(self, href: str | None, start: int) -> None:
        if not href or href.startswith("#") or href.lower().startswith("javascript:"):
            return
        label = _SPACES.sub(" ", "".join(self.out[start:])).strip()
        if href.lower().startswith("mailto:"):
            if label != href[len("mailto:") :]:
                self._emit(f" ({href[len('mailto:') :]})" if label else href[len("mailto:") :])
            return
        url = f"{LINK_START}{href}{LINK_END}" if self.mark_links else href
        if not label:
            self._emit(url)
        elif label != href:
            self._emit(f" ({url})")
        elif self.mark_links:  # the label is the URL: mark it, rather than write it twice
            del self.out[start:]
            self._emit(url)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            # Statements stay, so that an {% if %} opened outside <head> still closes.
            for match in _PLACEHOLDER.finditer(data):
                if int(match.group(1)) in self.statements:
                    self.out.append(match.group())
        elif self.pre:
            self._emit(data)
        else:
            for piece in _STATEMENT_SPLIT.split(data):
                self._text(piece)

    def _text(self, text: str) -> str:
        match = _PLACEHOLDER.fullmatch(text)
        if match is not None and int(match.group(1)) in self.statements:
            # A statement takes no room: the line breaks owed go after it, so that an
            # {% if %} around a paragraph leaves no blank lines behind when it is false.
            self.out.append(text)
        elif text.strip():
            self._emit(_SPACES.sub(" ", text))
        elif text and self.out and not self.pending:
            self.out.append(" ")

    def result(self) -> str:
        return tidy_text(_DOUBLE_SPACES.sub(" ", "".join(self.out)))
