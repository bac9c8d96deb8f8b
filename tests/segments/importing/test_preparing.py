"""What every row preparer shares: rows with a NUL character are rejected like any bad row."""

import datetime as dt
import json

import pytest

from segments.importing import import_customers, import_orders
from segments.models import Customer, ImportJob, Order

from .conftest import errors_of, write

pytestmark = pytest.mark.django_db

NUL_REASON = "contains a NUL character (\\x00), which text never has: the line may be damaged"
ORDERS_WITH_NUL = (
    "order_id,customer_id,ordered_at,amount,note\n"
    "O1,C1,2024-01-01,1,a\n"
    "O2,C\x001,2024-01-01,1,b\n"
    "O3,C1,2024-01-01,1\x002,c\n"
    "O4,C1,2024-01-01,1,gift\x00wrap\n"  # an attribute
    "O5,C2,2024-01-02,2,\n"
)


def check_nul_rejected(report, before=()):
    assert (report.rows, report.created, report.rejected) == (5, 2, 3)
    assert errors_of(report) == [
        (3, "customer_id", NUL_REASON),
        (4, "amount", NUL_REASON),
        (4, "amount", "not a number (expected e.g. 1234.50)"),
        (5, "note", NUL_REASON),
    ]
    assert [e.value for e in report.errors] == ["C\\x001", "1\\x002", "1\\x002", "gift\\x00wrap"]
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [*before, "O1", "O5"]
    # The report is stored as JSON (an upload's job page); PostgreSQL's JSON has no NUL.
    job = ImportJob.objects.create(kind="orders", file="x.csv", report=report.as_dict())
    assert ImportJob.objects.get(pk=job.pk).report == json.loads(json.dumps(report.as_dict(), default=str))


@pytest.mark.postgres
def test_rows_with_a_nul_are_rejected_in_a_first_load_and_the_others_loaded(tmp_path):
    report = import_orders(source=write(tmp_path, ORDERS_WITH_NUL))

    assert report.first_load
    check_nul_rejected(report)


@pytest.mark.postgres
def test_rows_with_a_nul_are_rejected_in_an_ordinary_import_and_the_others_written(tmp_path):
    Order.objects.create(customer=Customer.objects.create(external_id="C0"), external_id="O0",
                         ordered_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), amount=1)

    report = import_orders(source=write(tmp_path, ORDERS_WITH_NUL))

    assert not report.first_load
    check_nul_rejected(report, before=["O0"])


def test_a_nul_in_a_customer_attribute_rejects_only_that_customer(tmp_path):
    path = write(tmp_path, "customer_id,first_name,note\n1,Ann,x\n2,Bo,y\x00\n3,Cy,z\n")

    report = import_customers(source=path)

    assert errors_of(report) == [(3, "note", NUL_REASON)]
    assert dict(Customer.objects.values_list("external_id", "attributes")) == {"1": {"note": "x"}, "3": {"note": "z"}}
