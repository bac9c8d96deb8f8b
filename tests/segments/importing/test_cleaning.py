"""Cleaning columns: dates and time zones, numbers, padding; the fast paths give the same
result as the general path."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.utils import timezone

from segments.importing import import_orders
from segments.models import Order

from .conftest import UTC, errors_of, write

pytestmark = pytest.mark.django_db


def test_naive_dates_are_in_the_shops_time_zone_and_stored_in_utc(tmp_path, settings):
    settings.TIME_ZONE = "Europe/London"
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount\n"
        "A,1,2024-07-01 10:00,1\nB,1,2024-01-15 10:00,1\nC,1,2024-07-01T10:00:00Z,1\nD,1,2024-07-01 10:00+02:00,1\n",
    )

    import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored == {
        "A": dt.datetime(2024, 7, 1, 9, 0, tzinfo=UTC),  # BST
        "B": dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC),  # GMT
        "C": dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC),
        "D": dt.datetime(2024, 7, 1, 8, 0, tzinfo=UTC),
    }


def test_a_date_format_reads_day_first_dates_and_rejects_others(tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nA,1,03/04/2024 10:00,1\nB,1,2024-04-03,1\n")

    report = import_orders(source=path, date_format="%d/%m/%Y %H:%M")

    assert Order.objects.get().ordered_at == dt.datetime(2024, 4, 3, 10, 0, tzinfo=UTC)
    assert errors_of(report) == [(3, "ordered_at", "not a date in the format %d/%m/%Y %H:%M")]


def test_without_a_date_format_a_non_iso_format_is_inferred_once_for_the_file(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 1
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nA,1,12/1/2010 8:26,1\nB,1,1/12/2010 8:26,1\n")

    import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored == {
        "A": dt.datetime(2010, 12, 1, 8, 26, tzinfo=UTC),  # month first, as the first date showed
        "B": dt.datetime(2010, 1, 12, 8, 26, tzinfo=UTC),
    }


def test_cells_padded_with_tabs_no_break_spaces_or_carriage_returns_are_stripped(tmp_path):
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount,coupon_code\n"
        '\tA,C1\xa0,2024-01-01 , 12 ,"SPRING\r"\n'
        "B,C2,2024-01-02,3.5,in side\n",
    )

    report = import_orders(source=path)

    assert (report.created, report.rejected) == (2, 0)
    stored = {o.external_id: (o.customer.external_id, o.amount, o.coupon_code)
              for o in Order.objects.select_related("customer")}
    assert stored == {"A": ("C1", Decimal("12.00"), "SPRING"), "B": ("C2", Decimal("3.50"), "in side")}


@pytest.mark.parametrize("amounts, expected", [
    (["12", "3.25", "-19.95", "007.50"], ["12.00", "3.25", "-19.95", "7.50"]),  # plain: Arrow parses them
    (["1e3", "-0", "12345678.123456789", "+5"], ["1000.00", "0.00", "12345678.12", "5.00"]),  # pandas does
])
def test_amounts_read_the_same_in_plain_and_other_spellings(tmp_path, amounts, expected):
    rows = "".join(f"O{i},C1,2024-01-01,{amount}\n" for i, amount in enumerate(amounts))
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n" + rows + 'X,C1,2024-01-01,"1,5"\n')

    report = import_orders(source=path)

    assert errors_of(report) == [(len(amounts) + 2, "amount", "not a number (expected e.g. 1234.50)")]
    stored = dict(Order.objects.values_list("external_id", "amount"))
    assert stored == {f"O{i}": Decimal(amount) for i, amount in enumerate(expected)}


@pytest.mark.parametrize("others", [
    "",  # every date plain and valid: Arrow reads the column
    "D,1,2024-02-30,1\nE,1,2024-07-01T10:00:00-04:00,1\n",  # one invalid, one with an offset: pandas does
])
def test_plain_local_dates_read_the_same_whoever_parses_the_column(tmp_path, settings, others):
    settings.TIME_ZONE = "Europe/London"
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount\n"
        "A,1,2024-03-31T01:30:00,1\n"  # in the hour skipped in spring: moved forward
        "B,1,2024-10-27 01:30,1\n"  # in the hour repeated in autumn: the first one (BST)
        "C,1,2024-02-29,1\n" + others,
    )

    report = import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored["A"] == dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert stored["B"] == dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert stored["C"] == dt.datetime(2024, 2, 29, 0, 0, tzinfo=UTC)
    if others:
        assert stored["E"] == dt.datetime(2024, 7, 1, 14, 0, tzinfo=UTC)
        assert [(line, reason[:10]) for line, _, reason in errors_of(report)] == [(5, "not a date")]


def test_dates_outside_the_accepted_window_are_rejected_with_the_window_in_the_reason(tmp_path, settings):
    settings.TIME_ZONE = "Europe/London"
    settings.IMPORT_LATEST_DATE = dt.date(2026, 6, 30)
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount\n"
        "A,1,9999-12-31,1\n"  # the "no date" of many ERP exports
        "B,1,3024-01-05 10:00,1\n"  # a typo for 2024
        "C,1,0001-01-01,1\n"
        "D,1,1969-12-31 23:59,1\n"
        "E,1,1970-01-01 00:00,1\n"  # the first day accepted (IMPORT_EARLIEST_DATE), local time
        "F,1,2026-06-30 23:59,1\n"  # the last day accepted, local time (22:59 UTC)
        "G,1,2026-07-01T01:30:00+02:00,1\n",  # 23:30 UTC on the 30th, but 00:30 on 1 July in London
    )

    report = import_orders(source=path)

    window = "outside the dates accepted, 1970-01-01 to 2026-06-30 (IMPORT_EARLIEST_DATE, IMPORT_LATEST_DATE)"
    assert errors_of(report) == [(line, "ordered_at", window) for line in (2, 3, 4, 5, 8)]
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["E", "F"]


def test_the_latest_date_accepted_is_tomorrow_unless_it_is_set(tmp_path, settings):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    path = write(tmp_path, f"order_id,customer_id,ordered_at,amount\nA,1,{tomorrow} 23:00,1\n"
                           f"B,1,{tomorrow + dt.timedelta(days=1)} 00:00,1\n")

    report = import_orders(source=path)

    assert [(line, reason[-67:]) for line, _, reason in errors_of(report)] == [
        (3, f"1970-01-01 to {tomorrow} (IMPORT_EARLIEST_DATE, IMPORT_LATEST_DATE)")
    ]


def test_typed_dates_from_data_frames_meet_the_same_window(settings):
    settings.IMPORT_EARLIEST_DATE = dt.date(2020, 1, 1)
    frame = pd.DataFrame({
        "order_id": ["A", "B"], "customer_id": ["1", "1"], "amount": [1.0, 2.0],
        "ordered_at": pd.to_datetime(["2019-12-31 23:00", "2020-01-01 00:00"]).tz_localize("UTC"),
    })

    report = import_orders(source=frame)

    assert [(line, column) for line, column, _ in errors_of(report)] == [(2, "ordered_at")]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["B"]
