"""Money in the shop's currency and dates as a marketer reads them, for the customer and order pages.

display.money() writes amounts without a currency; until it takes one (the lead merges the two),
the customer and order pages write theirs here, with CURRENCY_SYMBOL.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import dateformat, timezone

DAY = "j M Y"  # 30 Nov 2026: short enough for a list column, unambiguous in every country
DAY_AND_TIME = "j M Y, H:i"


def money(value) -> str:
    """£1,234.50 and -£20.00; a hyphen when there is none (a customer who never ordered)."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}{settings.CURRENCY_SYMBOL}{abs(value):,.2f}"


def day(value: datetime.datetime | None) -> str:
    return _formatted(value, DAY)


def day_and_time(value: datetime.datetime | None) -> str:
    return _formatted(value, DAY_AND_TIME)


def calendar_day(value: datetime.date | None) -> str:
    """A date (already the shop's day) as DAY."""
    return "-" if value is None else dateformat.format(value, DAY)


def _formatted(value, pattern: str) -> str:
    """In the shop's time zone; a moment the zone cannot reach (0001-01-01 00:00 UTC is year 0
    in London, which Python has not) in UTC, saying so, rather than fail the page."""
    if value is None:
        return "-"
    try:
        local = timezone.localtime(value)
    except OverflowError:
        return f"{dateformat.format(value.astimezone(datetime.UTC), pattern)} UTC"
    return dateformat.format(local, pattern)
