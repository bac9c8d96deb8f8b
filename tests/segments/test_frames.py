"""Bulk reads into frames: what reaches SQL."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from segments import features, frames
from segments.models import Customer, Order
from segments.services.stats import customer_stats_refresh

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


def test_net_spend_is_the_same_to_the_cent_on_every_database(db):
    # SQLite adds decimal amounts as binary floats: 0.10 + 0.20 came back as 0.30000000000000004
    # there and 0.3 on PostgreSQL, and that last bit was enough to change the segments a run found.
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    customer = Customer.objects.create(external_id="C1")
    Order.objects.bulk_create(
        Order(customer=customer, external_id=f"O{i}", ordered_at=start + dt.timedelta(days=i), amount=amount, quantity=1)
        for i, amount in enumerate([Decimal("0.10"), Decimal("0.20")])
    )
    exact = float(Decimal("0.30"))

    assert frames.order_stats_frame(from_orders=True)["monetary"].tolist() == [exact]
    customer_stats_refresh(since=None)
    assert frames.order_stats_frame()["monetary"].tolist() == [exact]
    # An incremental refresh aggregates in SQL straight into the table.
    customer_stats_refresh(since=start - dt.timedelta(days=365 * 10))
    assert frames.order_stats_frame()["monetary"].tolist() == [exact]
    assert frames.order_stats_frame(customer_ids=[customer.pk])["monetary"].tolist() == [exact]


def test_order_times_keep_their_fraction_of_a_second_on_every_database(db):
    # SQLite's strftime('%s') dropped it: an order half a second after midnight counted from the
    # midnight before, a day more of recency and tenure than PostgreSQL gave.
    at = dt.datetime(2026, 6, 1, 0, 0, 0, 500_000, tzinfo=dt.UTC)
    customer = Customer.objects.create(external_id="C1")
    Order.objects.create(customer=customer, external_id="O1", ordered_at=at, amount=Decimal("10.00"), quantity=1)
    customer_stats_refresh(since=None)

    for stats in (frames.order_stats_frame(from_orders=True), frames.order_stats_frame()):
        assert stats[["first_order_at", "last_order_at"]].iloc[0].tolist() == [pd.Timestamp(at)] * 2
        built = features.build_features(stats, as_of=dt.date(2026, 6, 2))
        assert built[["recency_days", "tenure_days"]].iloc[0].tolist() == [0, 0]
