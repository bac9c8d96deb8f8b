"""The browser tests: Debian's Chromium, driven by Playwright, against the live test server.

Every test gets a fresh browser context (no cookies) and a page that records what a person would
notice: errors in the console, uncaught script errors, requests that failed or were answered
4xx/5xx. The test fails on any of them when it ends. Each step is saved as a screenshot in
BROWSER_ARTIFACTS (default artifacts/browser/), one folder per test, and the load time of the
pages we keep a goal for goes to page-load-times-<database>.json there.

Without Chromium or Playwright the tests skip with the reason, except under CI=true, where that
is a failure: CI installs the browser (`make browser`) and must run them.
"""

import datetime
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from segments import services
from segments.importing import import_customers, import_orders
from segments.models import SegmentationRun
from segments.sampledata import generate_shop
from tests.conftest import IN_CI, ROOT

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `chromium` fixture skips, saying so; the test modules import expect from here
    expect = sync_playwright = None

CHROMIUM = Path(os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium"))
# No sandbox: CI runs as root, where Chromium's sandbox refuses to start. The rest keeps a
# headless run quiet and offline: no GPU, no update checks, no background traffic to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / "artifacts" / "browser")
# The two screenshots the README shows, under names that do not change from run to run.
README_SHOTS = ARTIFACTS / "readme"
LOAD_TIME_GOAL_MS = 1000
# Long enough for a segmentation run in the request and a page with plots on a loaded 2-core machine.
TIMEOUT_MS = int(os.environ.get("BROWSER_TIMEOUT_MS", 60_000))
# The browser asks for /favicon.ico by itself; the admin has none, and nobody sees that 404.
IGNORED_URLS = re.compile(r"/favicon\.ico$")

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
PASSWORD = "browser-test-password"
SAMPLE_CUSTOMERS = 300
SAMPLE_END = datetime.date(2026, 6, 30)

load_times: list[dict] = []


# --- The browser ---------------------------------------------------------------------------------


def browser_missing(executable: Path = CHROMIUM) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if sync_playwright is None:
        return "needs the playwright package: make install"
    if not os.access(executable, os.X_OK):
        return f"needs Chromium at {executable}: make browser (Debian's chromium package)"
    return None


def not_available(reason: str, *, in_ci: bool = IN_CI):
    """Skip, saying why; under CI=true fail instead: CI installs the browser and must run these tests."""
    if in_ci:
        pytest.fail(f"{reason} (CI=true: `make browser` installs it, and the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """Chromium, for the tests of one module.

    Playwright's sync API keeps an asyncio loop running in this thread while it is started, and
    Django takes every ORM call made meanwhile for a call from async code. So Playwright runs for
    one module at a time, and Django's check is off only while it runs: the tests of other modules
    never see the loop, and nothing here calls the ORM concurrently.
    """
    reason = browser_missing()
    if reason:
        not_available(reason)
    expect.set_options(timeout=TIMEOUT_MS)
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if before is None:
            del os.environ[ASYNC_UNSAFE]
        else:
            os.environ[ASYNC_UNSAFE] = before


class Problems:
    """What went wrong in the page while a test drove it, as a person at the screen would see it."""

    def __init__(self):
        self.items: list[str] = []
        self.failed_requests: list[tuple[str, str, str]] = []
        self.downloads: set[str] = set()

    def console(self, message):
        if message.type == "error" and not IGNORED_URLS.search(message.location.get("url", "")):
            self.items.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def page_error(self, error):
        self.items.append(f"script error: {error}")

    def request_failed(self, request):
        self.failed_requests.append((request.method, request.url, request.failure or ""))

    def response(self, response):
        if response.status >= 400 and not IGNORED_URLS.search(response.url):
            self.items.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def download(self, download):
        self.downloads.add(download.url)

    def found(self) -> list[str]:
        # A link that downloads a file ends its navigation as "aborted" while the download goes on
        # (the two events come in either order, so they are matched here, at the end).
        failed = [
            f"request failed: {method} {url}: {failure}"
            for method, url, failure in self.failed_requests
            if not (url in self.downloads and "ERR_ABORTED" in failure)
        ]
        return self.items + failed


class Steps:
    """Screenshots of a test's steps, numbered in order, in a folder named after the test."""

    def __init__(self, page, name):
        self.page, self.count = page, 0
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    def shot(self, step: str, *, readme_name: str | None = None, readme_from: str | None = None) -> Path:
        """The whole page; with readme_name, also one screenful of it (from the element readme_from
        down) for the README."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        if readme_name:
            if readme_from:
                self.page.locator(readme_from).evaluate("element => element.scrollIntoView()")
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=README_SHOTS / readme_name, full_page=False)
        return path


@pytest.fixture
def page(chromium, live_server, request):
    """A page of a fresh browser context on the live server; fails the test on anything a person
    would see go wrong (console errors, failed requests)."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000},
                                   accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = Problems()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.on("requestfailed", problems.request_failed)
    page.on("response", problems.response)
    page.on("download", problems.download)
    page.problems = problems
    page.steps = Steps(page, request.node.name)
    try:
        yield page
    finally:
        context.close()
    found = problems.found()
    assert found == [], "the browser saw:\n" + "\n".join(found)


def load_time(page, label: str) -> dict:
    """The page's Navigation Timing, recorded for the report: how long until it had loaded."""
    page.wait_for_load_state("load")
    timing = page.evaluate(
        """() => { const t = performance.getEntriesByType("navigation")[0];
                   return {load_ms: t.loadEventEnd, dom_ready_ms: t.domContentLoadedEventEnd,
                           response_ms: t.responseEnd, transfer_bytes: t.transferSize}; }"""
    )
    entry = {"page": label, "url": page.url, **{k: round(v) for k, v in timing.items()},
             "goal_ms": LOAD_TIME_GOAL_MS, "customers": SAMPLE_CUSTOMERS, "database": connection.vendor}
    load_times.append(entry)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    load_times_file().write_text(json.dumps(load_times, indent=2) + "\n")
    return entry


def load_times_file() -> Path:
    # One file per database: CI's SQLite and PostgreSQL passes each keep theirs.
    return ARTIFACTS / f"page-load-times-{connection.vendor}.json"


def pytest_terminal_summary(terminalreporter):
    if not load_times:
        return
    terminalreporter.section("browser: page load times (Navigation Timing, loadEventEnd)")
    for entry in load_times:
        verdict = "within" if entry["load_ms"] < entry["goal_ms"] else "OVER"
        terminalreporter.write_line(
            f"{entry['page']}: {entry['load_ms']} ms to load ({entry['dom_ready_ms']} ms to DOM ready), "
            f"{verdict} the {entry['goal_ms']} ms goal, {entry['customers']} customers, {entry['database']}"
        )
    terminalreporter.write_line(f"written to {load_times_file()}")


# --- The shop ------------------------------------------------------------------------------------


@pytest.fixture
def admin_user(transactional_db):
    return User.objects.create_superuser("marketer", "marketer@shop.test", PASSWORD)


@pytest.fixture
def logged_in(page, admin_user, live_server):
    """The page with a session of admin_user: the login form is tested once (test_segments.py), the
    other tests start logged in, a page load sooner."""
    client = Client()
    client.force_login(admin_user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return page


def sample_shop(customers: int = SAMPLE_CUSTOMERS) -> None:
    """The sample shop of `generate_sample_data`, small, written through the import services."""
    shop = generate_shop(customers=customers, seed=0, end=SAMPLE_END, orders_per_customer=5.0)
    import_customers(source=[shop.customers])
    import_orders(source=[shop.orders])


def segment_now(**kwargs) -> SegmentationRun:
    """A segmentation run through the services, in this process: the setup of tests that are not
    about starting a run. It tries K = 3..6 only (the sample shop's choice is 4 or 5): each K tried
    costs seconds of a loaded test machine."""
    kwargs.setdefault("params", {"k_min": 3, "k_max": 6})
    created = services.segmentation_run_create(**kwargs)
    run = services.segmentation_run_execute(run_id=created.pk)
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def segmented_shop(transactional_db):
    sample_shop()
    return segment_now()


def admin_path(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)
