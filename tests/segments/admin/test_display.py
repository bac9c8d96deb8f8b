"""How every admin page writes numbers, shares, money, dates and durations (segments/admin/display.py)."""

import datetime

import pytest

from segments.admin import display

UTC = datetime.timezone.utc


def test_money_is_written_in_the_shops_currency(settings):
    settings.CURRENCY_SYMBOL = "€"

    assert display.money(1234.5) == "€1,234.50"
    assert display.money(-20) == "-€20.00"
    assert display.money(849.6, digits=0) == "€850"
    assert display.money(None) == display.EMPTY == "–"


def test_a_share_that_is_not_nothing_never_reads_as_nothing():
    assert display.percent(0.334) == "33%"
    assert display.percent(0.001) == "<1%"
    assert display.percent(0.0) == "0%"
    assert display.percent(None) == "–"


@pytest.mark.parametrize(
    ("value", "text"), [(1234, "1,234"), (19.0, "19"), (0.4567, "0.46"), (True, "yes"), (None, "–"), ("x", "x")]
)
def test_numbers_read_as_a_shop_owner_writes_them(value, text):
    assert display.number(value) == text


def test_dates_and_moments_are_written_one_way_in_the_shops_time_zone(settings):
    settings.TIME_ZONE = "Europe/London"

    assert display.day(datetime.date(2026, 11, 3)) == "3 Nov 2026"
    assert display.moment_text(datetime.datetime(2026, 7, 1, 13, 5, tzinfo=UTC)) == "1 Jul 2026, 14:05"  # BST
    assert display.moment_text(None) == display.day(None) == "–"


def test_a_moment_the_time_zone_cannot_reach_is_written_in_utc_saying_so(settings):
    settings.TIME_ZONE = "Europe/London"

    assert display.moment_text(datetime.datetime(1, 1, 1, tzinfo=UTC)).endswith(" UTC")


def test_durations_keep_two_decimals_below_a_second():
    assert (display.seconds(0.034), display.seconds(12.345), display.seconds(None)) == ("0.03 s", "12.3 s", "–")
