"""A customers file: contact data normalised, rows without a valid id rejected, invalid
optional fields left empty with a warning; both with line and column."""

import datetime as dt

import pytest

from segments.importing import import_customers
from segments.models import Customer

from ..conftest import FIXTURES, UTC, errors_of, write

pytestmark = pytest.mark.django_db


def test_it_imports_customers_with_normalised_contact_data():
    report = import_customers(source=FIXTURES / "customers.csv")

    assert (report.rows, report.created, report.updated, report.unchanged) == (8, 6, 0, 0)
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

    assert report.rejected == 2
    assert errors_of(report) == [
        (7, "customer_id", "missing customer id"),
        (8, "customer_id", "duplicate customer id: already on line 2"),
    ]
    assert errors_of(report, "warnings") == [
        (4, "email", "not a valid email address"),
        (5, "phone", "12345 is not a valid phone number (numbers without +country code are read as GB)"),
        (6, "time_zone", "not a time zone name (e.g. Europe/London)"),
        (6, "email_consent", "not one of yes/no, true/false, y/n, 1/0"),
        (9, "email_consent_at", "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"),
    ]
    assert report.warnings[0].value == "not-an-email"
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C001", "C002", "C003", "C004", "C005",
                                                                            "C008"}
    kept = {c.external_id: c for c in Customer.objects.all()}
    assert (kept["C003"].email, kept["C003"].first_name) == ("", "Carl")
    assert kept["C004"].phone == ""
    assert (kept["C005"].time_zone, kept["C005"].email_consent) == ("", False)
    assert kept["C008"].email_consent_at is None


def test_an_invalid_phone_keeps_the_customer_and_warns_with_a_message_that_fits_the_number(tmp_path):
    path = write(tmp_path, "customer_id,phone,first_name\n"
                           "1,+44 7700 900123,Ann\n"  # a country code, but a drama range: not a real number
                           "2,0044 7700 900123,Bo\n"
                           "3,07700 900123,Cy\n"
                           "4,+44 7911 123456,Di\n")

    report = import_customers(source=path)

    assert (report.created, report.rejected, report.errors) == (4, 0, [])
    assert errors_of(report, "warnings") == [
        (2, "phone", "+44 7700 900123 is not a valid number"),
        (3, "phone", "0044 7700 900123 is not a valid number"),
        (4, "phone", "07700 900123 is not a valid phone number (numbers without +country code are read as GB)"),
    ]
    assert dict(Customer.objects.values_list("first_name", "phone")) == {
        "Ann": "", "Bo": "", "Cy": "", "Di": "+447911123456"
    }


def test_an_invalid_optional_field_leaves_a_stored_customers_value_as_it_was(tmp_path):
    Customer.objects.create(external_id="1", phone="+447911123456", email="ann@example.com", first_name="Ann",
                            email_consent=True)
    Customer.objects.create(external_id="2", phone="+447911123457", email="bo@example.com", first_name="Bo")
    path = write(tmp_path, "customer_id,phone,email,first_name,email_consent\n"
                           "1,+44 7700 900123,ann@example.com,Anna,maybe\n"
                           "2,+44 7911 123458,not-an-email,Bob,no\n"
                           "3,12345,new@example.com,Cy,yes\n")

    report = import_customers(source=path)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (1, 2, 0, 0)
    assert [(line, column) for line, column, _ in errors_of(report, "warnings")] == [
        (2, "phone"), (2, "email_consent"), (3, "email"), (4, "phone")
    ]
    stored = {c.external_id: (c.phone, c.email, c.first_name, c.email_consent) for c in Customer.objects.all()}
    assert stored == {
        "1": ("+447911123456", "ann@example.com", "Anna", True),  # phone and consent kept, name updated
        "2": ("+447911123458", "bo@example.com", "Bob", False),  # email kept, the rest updated
        "3": ("", "new@example.com", "Cy", True),  # new: the field is empty
    }
