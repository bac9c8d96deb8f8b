"""Cache headers whitenoise adds to static files beyond its own (settings.WHITENOISE_ADD_HEADERS_FUNCTION).

In production every collected file has a hashed name and whitenoise already sends a year's cache.
In development names are not hashed and whitenoise asks the browser to check every file again on
every page (max-age=0): for plotly.js that is a round trip before any figure is drawn. The pages
ask for it as plotly/plotly.min.js?v=<plotly's version> (includes/plotly_js.html), a URL that
changes when plotly does, so it may be kept as long as the browser likes.
"""

from __future__ import annotations

YEAR = 365 * 24 * 3600
VERSIONED = ("/plotly/plotly.min.js",)


def add_headers(headers, path: str, url: str) -> None:
    if url.endswith(VERSIONED):
        headers["Cache-Control"] = f"max-age={YEAR}, public, immutable"
