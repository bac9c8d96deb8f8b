"""Tracked links and the one-click unsubscribe headers of an email.

Rendering stays pure: it finds the http(s) links of a rendered message and asks a callable
`track(url, index) -> str` for each one's replacement; the Django side signs the URL. `index`
numbers the distinct URLs of one message in order of first appearance, HTML part first, so
the same URL in the HTML and the text part gets the same index. The unsubscribe URL is never
rewritten: the List-Unsubscribe header must name it and mail clients may show it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

Track = Callable[[str, int], str]

# href of <a> tags; attribute values may be quoted either way.
_HREF = re.compile(r"""(<a\s[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_URL = re.compile(r"""\bhttps?://[^\s<>"'()\[\]{}]+""", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"

ONE_CLICK = "List-Unsubscribe=One-Click"


class LinkTracker:
    """Rewrites the links of one message."""

    __slots__ = ("track", "keep", "urls", "tracked")

    def __init__(self, track: Track, keep: Iterable[str] = ()):
        self.track = track
        self.keep = frozenset(keep)
        self.urls: list[str] = []  # distinct tracked URLs, by index
        self.tracked: dict[str, str] = {}

    def _replace(self, url: str) -> str:
        if url in self.keep:
            return url
        replacement = self.tracked.get(url)
        if replacement is None:
            replacement = self.track(url, len(self.urls))
            self.tracked[url] = replacement
            self.urls.append(url)
        return replacement

    def html(self, text: str) -> str:
        return _HREF.sub(self._href, text)

    def _href(self, match: re.Match[str]) -> str:
        quote = '"' if match.group(2) is not None else "'"
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        url = html.unescape(raw).strip() if "&" in raw else raw.strip()
        if not url[:8].lower().startswith(("http://", "https://")):
            return match.group()
        return f"{match.group(1)}{quote}{html.escape(self._replace(url), quote=True)}{quote}"

    def text(self, text: str) -> str:
        return _URL.sub(self._url, text)

    def _url(self, match: re.Match[str]) -> str:
        found = match.group()
        url = found.rstrip(_TRAILING_PUNCTUATION)
        return self._replace(url) + found[len(url) :]


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to
    the URL, which must unsubscribe without further confirmation."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"the unsubscribe link must be an http(s) URL, got {url!r}")
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}
