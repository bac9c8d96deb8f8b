"""Online retail invoice lines: one order per invoice, across chunk borders, rejected whole."""

import datetime as dt
from decimal import Decimal

import pytest

from segments.importing import import_orders
from segments.models import Customer, Order

from ..conftest import FIXTURES, UTC, errors_of, write

pytestmark = pytest.mark.django_db


def test_online_retail_lines_become_one_order_per_invoice():
    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.rows, report.created, report.skipped, report.rejected, report.customers_created) == (10, 5, 2, 0, 4)
    invoice = Order.objects.get(external_id="536365")
    assert invoice.customer.external_id == "17850"
    assert (invoice.amount, invoice.quantity, invoice.is_return) == (Decimal("57.64"), 20, False)
    assert invoice.attributes == {"lines": 3}
    assert invoice.ordered_at == dt.datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert Order.objects.get(external_id="536366").customer_id == invoice.customer_id
    cancelled = Order.objects.get(external_id="C536379")
    assert (cancelled.amount, cancelled.quantity, cancelled.is_return) == (Decimal("-27.50"), -1, True)
    assert Order.objects.get(external_id="536370").amount == Decimal("180.00")
    assert Customer.objects.get(external_id="12583").country == "France"
    assert not Order.objects.filter(external_id="536368").exists()


def test_reimporting_online_retail_changes_nothing():
    import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.created, report.updated, report.unchanged, report.skipped) == (0, 0, 5, 2)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4])
def test_an_invoice_straddling_a_chunk_border_is_still_one_order(settings, chunk_rows):
    settings.IMPORT_CHUNK_ROWS = chunk_rows

    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.rows, report.created, report.skipped, report.rejected) == (10, 5, 2, 0)
    assert Order.objects.get(external_id="536365").amount == Decimal("57.64")
    assert Order.objects.get(external_id="536365").attributes == {"lines": 3}


def test_an_invoice_that_comes_back_after_other_invoices_is_rejected(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    text = (FIXTURES / "online_retail.csv").read_text()
    text += "536365,22752,SET 7 BABUSHKA NESTING BOXES,2,12/1/2010 8:26,7.65,17850,United Kingdom\n"

    report = import_orders(source=write(tmp_path, text), format="online-retail")

    assert errors_of(report) == [
        (12, "InvoiceNo", "invoice appears again after other invoices (first on line 2); "
                          "the lines of one invoice must be next to each other"),
    ]
    assert Order.objects.get(external_id="536365").amount == Decimal("57.64")


def test_an_invoice_with_a_bad_line_is_rejected_whole(tmp_path):
    text = (FIXTURES / "online_retail.csv").read_text().replace("6,12/1/2010 8:26,3.39", "six,12/1/2010 8:26,3.39")

    report = import_orders(source=write(tmp_path, text), format="online-retail")

    assert errors_of(report) == [
        (2, "InvoiceNo", "another line of this invoice was rejected (line 3)"),
        (3, "Quantity", "not a whole number"),
        (4, "InvoiceNo", "another line of this invoice was rejected (line 3)"),
    ]
    assert report.created == 4
    assert not Order.objects.filter(external_id="536365").exists()


def test_an_invalid_country_keeps_the_invoice_and_the_customers_stored_country(tmp_path):
    Customer.objects.create(external_id="17850", country="United Kingdom")
    path = write(tmp_path, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                           f"536365,85123A,HEART,6,2010-12-01 08:26,2.55,17850,{'U' * 65}\n"
                           f"536366,22633,WARMER,6,2010-12-01 08:28,1.85,13047,{'U' * 65}\n")

    report = import_orders(source=path, format="online-retail")

    assert (report.created, report.rejected) == (2, 0)
    assert errors_of(report, "warnings") == [(2, "Country", "longer than 64 characters"),
                                             (3, "Country", "longer than 64 characters")]
    assert dict(Customer.objects.values_list("external_id", "country")) == {"17850": "United Kingdom", "13047": ""}
