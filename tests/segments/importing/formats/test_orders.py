"""An orders file: orders and their new customers created, bad rows reported, amounts
from quantity and unit price."""

import datetime as dt
from decimal import Decimal

import pytest

from segments.importing import import_orders
from segments.models import Customer, Order

from ..conftest import FIXTURES, UTC, errors_of, write

pytestmark = pytest.mark.django_db


def test_it_imports_orders_and_creates_the_customers_it_does_not_know():
    report = import_orders(source=FIXTURES / "orders.csv")

    assert (report.rows, report.created, report.rejected, report.customers_created) == (8, 3, 5, 2)
    first = Order.objects.get(external_id="O-1")
    assert first.customer.external_id == "C001"
    assert first.ordered_at == dt.datetime(2024, 3, 31, 14, 5, tzinfo=UTC)
    assert (first.amount, first.quantity, first.is_return) == (Decimal("59.90"), 2, False)
    assert first.coupon_code == "SPRING10"
    assert first.attributes == {"channel": "web"}
    refund = Order.objects.get(external_id="O-2")
    assert refund.ordered_at == dt.datetime(2024, 4, 2, 8, 0, tzinfo=UTC)
    assert (refund.amount, refund.is_return) == (Decimal("-19.95"), True)
    stranger = Customer.objects.get(external_id="C777")
    assert (stranger.email, stranger.phone, stranger.email_consent, stranger.sms_consent) == ("", "", False, False)
    assert stranger.orders.get().ordered_at == dt.datetime(2024, 4, 3, tzinfo=UTC)


def test_it_reports_each_bad_order_row_with_its_line_and_column():
    report = import_orders(source=FIXTURES / "orders.csv")

    assert errors_of(report) == [
        (5, "ordered_at", "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"),
        (6, "amount", "not a number (expected e.g. 1234.50)"),
        (7, "order_id", "duplicate order id: already on line 2"),
        (8, "customer_id", "missing customer id"),
        (9, "amount", "missing amount"),
    ]
    assert set(Order.objects.values_list("external_id", flat=True)) == {"O-1", "O-2", "O-3"}


def test_the_amount_is_quantity_times_unit_price_when_the_file_has_no_amount():
    import_orders(source=FIXTURES / "orders_without_ids.csv")

    amounts = sorted(Order.objects.values_list("amount", "quantity"))
    assert amounts == [(Decimal("9.00"), 2), (Decimal("9.00"), 2), (Decimal("19.99"), 1)]


def test_with_an_amount_column_an_invalid_quantity_or_coupon_is_left_empty_and_the_order_kept(tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount,quantity,coupon_code,is_return\n"
                           "A,1,2024-01-01,10,two,SPRING,no\n"
                           f"B,1,2024-01-02,20,2,{'X' * 65},no\n"
                           "C,1,2024-01-03,-5,1,,maybe\n")  # what a row means is not optional

    report = import_orders(source=path)

    assert errors_of(report) == [(4, "is_return", "not one of yes/no, true/false, y/n, 1/0")]
    assert errors_of(report, "warnings") == [
        (2, "quantity", "not a whole number"), (3, "coupon_code", "longer than 64 characters")
    ]
    stored = {o.external_id: (o.amount, o.quantity, o.coupon_code) for o in Order.objects.all()}
    assert stored == {"A": (Decimal("10.00"), 0, "SPRING"), "B": (Decimal("20.00"), 2, "")}


def test_without_an_amount_column_quantity_and_unit_price_make_the_amount_and_must_be_valid(tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,quantity,unit_price\n"
                           "A,1,2024-01-01,two,5\nB,1,2024-01-02,2,5\n")

    report = import_orders(source=path)

    assert errors_of(report) == [(2, "quantity", "not a whole number")]
    assert report.warnings == []
    assert list(Order.objects.values_list("external_id", "amount")) == [("B", Decimal("10.00"))]
