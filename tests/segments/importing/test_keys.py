"""Ids derived from a row's content for orders without an order id."""

import pytest

from segments.importing import import_orders
from segments.models import Order

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db


def test_rows_without_an_order_id_get_ids_that_survive_a_reimport():
    first = import_orders(source=FIXTURES / "orders_without_ids.csv")
    ids = set(Order.objects.values_list("external_id", flat=True))

    again = import_orders(source=FIXTURES / "orders_without_ids.csv")

    assert first.created == 3  # the two identical rows are two orders
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert set(Order.objects.values_list("external_id", flat=True)) == ids
    assert len(ids) == 3 and all(i.startswith("row-") for i in ids)
