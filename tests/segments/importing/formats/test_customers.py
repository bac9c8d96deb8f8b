"""A customers file: contact data normalised, bad rows reported with line and column."""

import datetime as dt

import pytest

from segments.importing import import_customers
from segments.models import Customer

from ..conftest import FIXTURES, UTC, errors_of

pytestmark = pytest.mark.django_db


def test_it_imports_customers_with_normalised_contact_data():
    report = import_customers(source=FIXTURES / "customers.csv")

    assert (report.rows, report.created, report.updated, report.unchanged) == (8, 2, 0, 0)
    ana = Customer.objects.get(external_id="C001")
    assert ana.email == "ana.silva@example.com"
    assert ana.phone == "+447911123456"
    assert (ana.first_name, ana.last_name, ana.country) == ("Ana", "Silva", "United Kingdom")
    assert ana.time_zone == "Europe/London"
    assert ana.email_consent is True and ana.sms_consent is False
    assert ana.email_consent_at == dt.datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    bob = Customer.objects.get(external_id="C002")
    assert bob.phone == "+33612345678"
    assert bob.email_consent is True and bob.sms_consent is True
    assert bob.email_consent_at == dt.datetime(2024, 3, 2, 7, 0, tzinfo=UTC)
    assert bob.attributes == {"vip_level": 1.5}
    assert ana.attributes == {"vip_level": 2}


def test_it_reports_each_bad_customer_row_with_its_line_and_column():
    report = import_customers(source=FIXTURES / "customers.csv")

    assert report.rejected == 6
    assert errors_of(report) == [
        (4, "email", "not a valid email address"),
        (5, "phone", "not a valid phone number (numbers without +country code are read as GB)"),
        (6, "time_zone", "not a time zone name (e.g. Europe/London)"),
        (6, "email_consent", "not one of yes/no, true/false, y/n, 1/0"),
        (7, "customer_id", "missing customer id"),
        (8, "customer_id", "duplicate customer id: already on line 2"),
        (9, "email_consent_at", "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"),
    ]
    assert report.errors[0].value == "not-an-email"
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C001", "C002"}
