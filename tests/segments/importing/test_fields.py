"""Matching a file's columns to fields: names, aliases, the mapping, required columns."""

import pytest

from segments.importing import ImportFileError, import_customers, import_orders
from segments.models import Customer

from .conftest import FIXTURES, write

pytestmark = pytest.mark.django_db


def test_columns_are_matched_by_alias_or_by_the_mapping(tmp_path):
    path = write(tmp_path, "CustomerID,E-Mail Address,Mobile,Vorname\n17850.0,A@B.CO,07911 123456,Zoë\n")

    report = import_customers(source=path, mapping={"first_name": "vorname"})

    assert report.created == 1
    customer = Customer.objects.get()
    assert (customer.external_id, customer.email, customer.phone, customer.first_name) == (
        "17850", "a@b.co", "+447911123456", "Zoë"
    )
    assert customer.attributes == {}


def test_a_mapping_naming_a_column_the_file_lacks_names_it_and_lists_the_columns():
    with pytest.raises(ImportFileError) as caught:
        import_customers(source=FIXTURES / "simple_segmentation.csv", mapping={"email": "Mail"})

    message = str(caught.value)
    assert "email=Mail" in message
    assert "customer_id, products_purchased, complains, money_spent" in message


def test_a_file_without_a_customer_id_column_is_refused(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        import_customers(source=write(tmp_path, "name,email\nA,a@b.co\n"))

    assert "no column for external_id" in str(caught.value)
    assert "name, email" in str(caught.value)
    assert not Customer.objects.exists()


def test_an_unknown_field_in_the_mapping_is_refused():
    with pytest.raises(ImportFileError, match="Unknown field.*mobile_phone"):
        import_customers(source=FIXTURES / "customers.csv", mapping={"mobile_phone": "phone"})


def test_a_missing_required_order_column_is_refused(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        import_orders(source=write(tmp_path, "order_id,customer_id,quantity\nA,1,2\n"))

    message = str(caught.value)
    assert "ordered_at" in message and "amount or quantity and unit_price" in message
    assert "order_id, customer_id, quantity" in message
