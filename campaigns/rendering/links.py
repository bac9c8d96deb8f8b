"""Tracked links and the one-click unsubscribe headers of an email.

Rendering stays pure: it finds the http(s) links of a rendered message and asks a callable
`track(url, index) -> str` for each one's replacement; the Django side signs the URL. `index`
numbers the distinct URLs of one message in order of first appearance, HTML part first, so
the same URL in the HTML and the text part gets the same index. The unsubscribe URL is never
rewritten: the List-Unsubscribe header must name it and mail clients may show it.

The links are found without searching each message: when an email template is compiled,
the value of every <a href="..."> in its HTML, and every link URL of a text part generated
from that HTML, is put between LINK_START and LINK_END (control characters), in a second
compiled copy of those parts that is rendered when links are tracked. A render then splits
at the marks. Only a text part the marketer wrote is searched for http(s) URLs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from .html_text import LINK_END, LINK_START, protect_jinja, restore_jinja

Track = Callable[[str, int], str]

# href of <a> tags; attribute values may be quoted either way.
_HREF = re.compile(r"""(<a\s[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"""https?://[^\s<>"'()\[\]{}]+""", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"

ONE_CLICK = "List-Unsubscribe=One-Click"


class LinkTracker:
    """Rewrites the links of one message."""

    __slots__ = ("track", "urls", "tracked", "escaped")

    def __init__(self, track: Track, keep: Iterable[str] = ()):
        self.track = track
        self.urls: list[str] = []  # distinct tracked URLs, by index
        self.tracked: dict[str, str] = {url: url for url in keep}  # URL -> its replacement
        self.escaped: dict[str, str] = {}  # URL -> its replacement, escaped for an HTML attribute

    def _replace(self, url: str) -> str:
        replacement = self.tracked.get(url)
        if replacement is None:
            replacement = self.tracked[url] = self.track(url, len(self.urls))
            self.urls.append(url)
        return replacement

    def marked_html(self, text: str) -> str:
        """An HTML part with its marked href values (mark_hrefs) replaced, marks removed."""
        head, *chunks = text.split(LINK_START)
        parts = [head]
        escaped = self.escaped
        for chunk in chunks:
            value, end, rest = chunk.partition(LINK_END)
            url = _href_url(value) if end else None
            if url is None:
                parts.append(value)
            else:
                replacement = escaped.get(url)
                if replacement is None:
                    replacement = escaped[url] = html.escape(self._replace(url), quote=True)
                parts.append(replacement)
            parts.append(rest)
        return _without_stray_marks("".join(parts))

    def text(self, text: str) -> str:
        return _URL.sub(self._url, text)

    def _url(self, match: re.Match[str]) -> str:
        found = match.group()
        url = found.rstrip(_TRAILING_PUNCTUATION)
        return self._replace(url) + found[len(url) :]

    def marked_text(self, text: str) -> str:
        """A generated text part with its marked link URLs (html_to_text's mark_links)
        replaced, marks removed."""
        head, *chunks = text.split(LINK_START)
        parts = [head]
        tracked = self.tracked  # by now, mostly the links the HTML part had
        for chunk in chunks:
            url, end, rest = chunk.partition(LINK_END)
            replacement = tracked.get(url)
            if replacement is None:
                replacement = self._replace(url) if end and _is_http(url) else url
            parts.append(replacement)
            parts.append(rest)
        return _without_stray_marks("".join(parts))


# href values seen -> the http(s) URL they stand for, or None. The same few come back in
# every message of a run.
_HREF_URLS: dict[str, str | None] = {}
_MAX_HREF_URLS = 10_000


def _href_url(value: str) -> str | None:
    known = _HREF_URLS.get(value, _HREF_URLS)  # the dict itself stands for "not seen"
    if known is not _HREF_URLS:
        return known
    url = (html.unescape(value) if "&" in value else value).strip()
    if len(_HREF_URLS) >= _MAX_HREF_URLS:
        _HREF_URLS.clear()
    _HREF_URLS[value] = result = url if _is_http(url) else None
    return result


def mark_hrefs(source: str) -> str:
    """The HTML template source with the value of each <a href> between the link marks."""
    protected, tags = protect_jinja(source)
    marked = _HREF.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{LINK_START}{m.group(3)}{LINK_END}{m.group(2)}", protected
    )
    return restore_jinja(marked, tags)


def _is_http(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def _without_stray_marks(text: str) -> str:
    # Only data can leave a mark unpaired; `in` is a fast scan, replace() a slow one.
    return text.replace(LINK_END, "") if LINK_END in text else text


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to
    the URL, which must unsubscribe without further confirmation."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"the unsubscribe link must be an http(s) URL, got {url!r}")
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}
