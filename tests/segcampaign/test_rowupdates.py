"""segcampaign.rowupdates.update_rows: many rows, each with its own values, one statement, on
either database."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segcampaign import rowupdates
from segments.models import Customer

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def customers():
    return [Customer.objects.create(external_id=f"c{n}", first_name=f"Old{n}") for n in range(5)]


def test_each_row_gets_its_own_values_in_one_statement(customers):
    a, b, c = customers[:3]
    rows = [(a.pk, "Zoë", {"tier": "gold"}, AT, True), (c.pk, "Ada\n'x'", [1, 2], None, False)]

    with CaptureQueriesContext(connection) as queries:
        written = rowupdates.update_rows(
            Customer, ["first_name", "attributes", "email_consent_at", "email_consent"], rows
        )

    assert written == sorted([a.pk, c.pk])
    assert len(queries) == 1
    stored = {x.pk: x for x in Customer.objects.all()}
    assert (stored[a.pk].first_name, stored[a.pk].attributes, stored[a.pk].email_consent_at) == (
        "Zoë", {"tier": "gold"}, AT)
    assert stored[a.pk].email_consent is True
    assert (stored[c.pk].first_name, stored[c.pk].attributes, stored[c.pk].email_consent_at) == ("Ada\n'x'", [1, 2], None)
    assert stored[b.pk].first_name == "Old1"  # not given: untouched


def test_rows_that_fail_the_condition_are_neither_written_nor_returned(customers):
    a, b = customers[:2]
    Customer.objects.filter(pk=b.pk).update(country="FR")

    written = rowupdates.update_rows(
        Customer, ["first_name"], [(a.pk, "New0"), (b.pk, "New1")],
        extra_set="locale = %s", extra_params=["en-GB"], condition="country = %s", condition_params=[""],
    )

    assert written == [a.pk]
    assert Customer.objects.get(pk=a.pk).first_name == "New0" and Customer.objects.get(pk=a.pk).locale == "en-GB"
    assert Customer.objects.get(pk=b.pk).first_name == "Old1" and Customer.objects.get(pk=b.pk).locale == ""


def test_no_rows_write_nothing(customers):
    with CaptureQueriesContext(connection) as queries:
        assert rowupdates.update_rows(Customer, ["first_name"], []) == []
    assert not queries


def test_a_statement_that_would_bind_too_many_parameters_is_split(customers, monkeypatch):
    monkeypatch.setattr(rowupdates, "_SQLITE_PARAMETERS", 5)  # two rows of (pk, value) per statement
    monkeypatch.setattr(rowupdates, "_POSTGRES_PARAMETERS", 5)

    with CaptureQueriesContext(connection) as queries:
        written = rowupdates.update_rows(Customer, ["first_name"], [(c.pk, f"New{n}") for n, c in enumerate(customers)])

    assert len(queries) == 3
    assert written == sorted(c.pk for c in customers)
    assert sorted(Customer.objects.values_list("first_name", flat=True)) == [f"New{n}" for n in range(5)]


def test_only_the_shared_assignment_when_no_column_is_given(customers):
    a, b = customers[:2]

    written = rowupdates.update_rows(Customer, [], [(a.pk,)], extra_set="country = %s", extra_params=["GB"])

    assert written == [a.pk]
    assert Customer.objects.get(pk=a.pk).country == "GB" and Customer.objects.get(pk=b.pk).country == ""
