"""How the admin pages write numbers, money and links: one way for every page."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, formats, timezone
from django.utils.html import format_html, format_html_join

from segcampaign.jobs import Job


# What every page shows where there is no value (no order yet, a figure a run did not measure).
EMPTY = "–"
# Dates on the pages that write them out themselves: "30 Nov 2026" and "30 Nov 2026, 14:05".
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"


def number(value, digits: int = 2) -> str:
    """A count, a measure or a flag as a shop owner reads it; an en dash when there is none."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        # "19 days", not "19.00 days": medians of counts and days are usually whole.
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.{digits}f}"
    return str(value)


def percent(value) -> str:
    """A share (0.33) as "33%"; a share that is not nothing but rounds to it as "<1%"."""
    if value is None:
        return EMPTY
    if 0 < value < 0.005:
        return "<1%"
    return f"{value:.0%}"


def money(value, *, digits: int = 2) -> str:
    """An amount in the shop's currency (CURRENCY_SYMBOL): "£1,234.50", "-£20.00"; digits=0 rounds
    to whole units ("£850") where cents would be noise (a segment's median spend)."""
    if value is None:
        return EMPTY
    sign = "-" if value < 0 else ""
    return f"{sign}{settings.CURRENCY_SYMBOL}{abs(value):,.{digits}f}"


def day(value: datetime.date | datetime.datetime | None) -> str:
    """A date as every page writes it: "30 Nov 2026"; a moment's date in the shop's time zone."""
    if isinstance(value, datetime.datetime):
        return _local_text(value, DATE_FORMAT)
    return EMPTY if value is None else dateformat.format(value, DATE_FORMAT)


def moment_text(value: datetime.datetime | None) -> str:
    """A date and time in the shop's time zone as every page writes it: "30 Nov 2026, 14:05"."""
    return _local_text(value, DATETIME_FORMAT)


def _local_text(value: datetime.datetime | None, pattern: str) -> str:
    """In the shop's time zone; a moment the zone cannot reach (0001-01-01 00:00 UTC is year 0
    in London, which Python has not) in UTC, saying so, rather than fail the page."""
    if value is None:
        return EMPTY
    try:
        local = timezone.localtime(value)
    except OverflowError:
        return f"{dateformat.format(value.astimezone(datetime.UTC), pattern)} UTC"
    return dateformat.format(local, pattern)


def seconds(value) -> str:
    return EMPTY if value is None else f"{value:,.1f} s" if value >= 1 else f"{value:,.2f} s"


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
        return EMPTY
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
