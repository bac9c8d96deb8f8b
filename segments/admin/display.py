"""How the admin pages write numbers, money and links: one way for every page."""

from __future__ import annotations

import datetime

from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from segcampaign.jobs import Job


def number(value, digits: int = 2) -> str:
    """A count, a measure or a flag as a shop owner reads it; an en dash when there is none."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        # "19 days", not "19.00 days": medians of counts and days are usually whole.
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.{digits}f}"
    return str(value)


def percent(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def money(value) -> str:
    """An amount with two decimals; a hyphen when there is none (a customer who never ordered)."""
    return "-" if value is None else f"{value:,.2f}"


def moment(value: datetime.datetime | None) -> datetime.datetime | str | None:
    """A date and time for a page, which Django shows in the shop's time zone. One the zone
    cannot reach (0001-01-01 00:00 UTC is year 0 in London, which Python has not) comes as
    text in UTC, saying so: the page shows it rather than fail."""
    if value is None:
        return None
    try:
        timezone.template_localtime(value)
    except OverflowError:
        return f"{formats.localize(value.astimezone(datetime.UTC).replace(tzinfo=None))} UTC"
    return value


def admin_url(name: str, *args) -> str | None:
    """The admin page `name` ("segments_segment_change"), or None while its model is not registered."""
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None


def key_value_table(rows):
    """A small two-column table from (label, value) pairs, escaped."""
    if not rows:
        return "–"
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    return format_html('<table class="segcampaign-kv">{}</table>', body)


def no_sign_of_life(job: Job) -> str:
    """"no sign of life for 7 minutes" for a running job whose worker looks dead; else empty."""
    if not job.is_stale():
        return ""
    last = job.heartbeat_at or job.started_at
    if last is None:
        return "no sign of life since it started"
    minutes = int((timezone.now() - last).total_seconds() // 60)
    return f"no sign of life for {minutes} minute{'' if minutes == 1 else 's'}"
