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
