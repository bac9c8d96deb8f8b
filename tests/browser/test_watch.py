"""The watch every browser test keeps on its page sees what it must: without it, "no console
errors, no failed requests" would pass however broken a page was."""

import pytest

from .conftest import admin_path

pytestmark = pytest.mark.browser


def test_the_watch_sees_console_errors_script_errors_and_failed_requests(logged_in):
    page = logged_in
    page.goto(admin_path("index"))
    page.evaluate("console.error('a deliberate console error')")
    page.evaluate("setTimeout(() => { throw new Error('a deliberate script error'); }, 0)")
    page.evaluate("fetch('/static/no-such-file.js').catch(() => {})")
    # Port 9 (discard) on this machine: nothing listens, so the request fails outright.
    page.evaluate("fetch('http://127.0.0.1:9/').catch(() => {})")
    expected = ("a deliberate console error", "a deliberate script error", "/static/no-such-file.js",
                "http://127.0.0.1:9/")
    for _ in range(100):  # the browser's events reach the watch while Playwright waits
        found = "\n".join(page.problems.found())
        if all(text in found for text in expected):
            break
        page.wait_for_timeout(100)

    assert "console error: a deliberate console error" in found
    assert "script error: a deliberate script error" in found
    assert "HTTP 404: GET" in found and "/static/no-such-file.js" in found
    assert "request failed: GET http://127.0.0.1:9/" in found
    # Seen, and so not this test's failure.
    page.problems.items.clear()
    page.problems.failed_requests.clear()
