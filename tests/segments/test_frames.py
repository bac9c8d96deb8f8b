"""Bulk reads into frames: what reaches SQL."""

import pytest

from segments import features, frames
from segments.models import Customer

pytestmark = pytest.mark.django_db


def test_a_hostile_attribute_name_is_refused_before_any_query(sql_sent):
    Customer.objects.create(external_id="C1", attributes={"complains": 1})

    with pytest.raises(features.FeatureError, match="may hold only letters, digits"):
        frames.customers_frame(attributes=["complains", "a'); DROP TABLE segments_customer; --"])

    assert not [statement for statement in sql_sent() if "DROP" in statement]


def test_attribute_names_with_letters_digits_dashes_and_underscores_are_read(db):
    Customer.objects.create(external_id="C1", attributes={"money_spent-2": 12.5, "points_3": 3})

    frame = frames.customers_frame(attributes=["money_spent-2", "points_3"])

    assert frame[["money_spent-2", "points_3"]].astype(float).to_dict("records") == [{"money_spent-2": 12.5, "points_3": 3.0}]


def test_customer_text_columns_stay_text_when_every_value_looks_like_a_number(db):
    # On PostgreSQL the frame comes through CSV, where "+447700900123" read as 447700900123.0:
    # every SMS of a run went to that.
    Customer.objects.create(external_id="C1", phone="+447700900123", first_name="007", email="")
    Customer.objects.create(external_id="C2", phone="", first_name="", email="")

    frame = frames.customers_columns_frame(columns=["phone", "first_name"], customer_ids=[
        c.pk for c in Customer.objects.order_by("external_id")])

    assert frame["phone"].fillna("").tolist() == ["+447700900123", ""]
    assert frame["first_name"].fillna("").tolist() == ["007", ""]
