"""Ids derived from a row's content for orders without an order id."""

import datetime as dt

import pytest

from segments.importing import import_orders
from segments.models import Customer, Order

from .conftest import FIXTURES, write

pytestmark = pytest.mark.django_db


def test_rows_without_an_order_id_get_ids_that_survive_a_reimport():
    first = import_orders(source=FIXTURES / "orders_without_ids.csv")
    ids = set(Order.objects.values_list("external_id", flat=True))

    again = import_orders(source=FIXTURES / "orders_without_ids.csv")

    assert first.created == 3  # the two identical rows are two orders
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert set(Order.objects.values_list("external_id", flat=True)) == ids
    assert len(ids) == 3 and all(i.startswith("row-") for i in ids)


@pytest.mark.parametrize("table", ["empty", "with other orders"])  # on PostgreSQL: a first load, an upsert
def test_identical_rows_in_different_chunks_are_numbered_on_across_chunks(tmp_path, settings, table):
    if table != "empty":
        Order.objects.create(customer=Customer.objects.create(external_id="C9"), external_id="OTHER",
                             ordered_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), amount=1)
    path = write(tmp_path, "customer_id,ordered_at,amount\n" + "C1,2024-05-01 10:00,9.90\n" * 3)
    settings.IMPORT_CHUNK_ROWS = 1  # each row its own chunk

    first = import_orders(source=path)
    ids = set(Order.objects.filter(customer__external_id="C1").values_list("external_id", flat=True))
    settings.IMPORT_CHUNK_ROWS = 100_000
    again = import_orders(source=path)

    assert (first.created, first.rejected) == (3, 0)
    assert len(ids) == 3
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert set(Order.objects.filter(customer__external_id="C1").values_list("external_id", flat=True)) == ids
