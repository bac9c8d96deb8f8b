"""CustomerStats: the SQL aggregate, its refresh and its watermark."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from segments import features, frames, services
from segments.models import Customer, CustomerStats, Order

from ..conftest import NOW, run

pytestmark = pytest.mark.django_db


def test_sql_order_stats_agree_with_the_pandas_definition(shop):
    customer = Customer.objects.get(external_id="C0001")
    Order.objects.create(
        customer=customer, external_id="R1", ordered_at=NOW, amount=Decimal("-80.00"), quantity=1, is_return=True
    )
    services.customer_stats_refresh(since=None)
    from_sql = frames.order_stats_frame()

    orders = pd.DataFrame.from_records(
        Order.objects.values_list("customer_id", "ordered_at", "amount", "quantity", "is_return"),
        columns=["customer_id", "ordered_at", "amount", "quantity", "is_return"],
    )
    orders["amount"] = orders["amount"].astype(float)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    from_pandas = features.order_stats(orders)

    pd.testing.assert_frame_equal(
        from_sql[list(features.ORDER_STATS_COLUMNS)],
        from_pandas[list(features.ORDER_STATS_COLUMNS)],
        check_dtype=False,
        check_index_type=False,
        check_names=False,
        atol=1e-6,
    )
    assert from_sql.loc[customer.pk, "returns"] == 1


def test_the_first_run_builds_the_stats_and_records_its_watermark(shop):
    first = run(k=3)

    assert first.stats_refreshed == 60
    # Taken behind the changes lock once the run has started (segments.changes), not its start.
    assert first.started_at < first.stats_watermark < first.finished_at
    assert CustomerStats.objects.count() == 60
    assert "stats_refreshed" not in first.params


def test_a_later_run_re_aggregates_only_customers_changed_since_the_watermark(shop):
    first = run(k=3)
    lapsed = Customer.objects.get(external_id="C0021")
    Order.objects.create(customer=lapsed, external_id="late", ordered_at=NOW, amount=Decimal("15.00"), quantity=1)
    services.customers_mark_changed(customer_ids=[lapsed.pk])

    second = run(k=3)

    assert second.stats_refreshed == 1
    assert second.finished_at > second.stats_watermark > second.started_at > first.stats_watermark
    assert CustomerStats.objects.get(pk=lapsed.pk).last_order_at == NOW


def test_rebuild_stats_re_aggregates_everyone(shop):
    run(k=3)
    CustomerStats.objects.update(frequency=999)  # stats gone wrong, say by a restored backup

    rebuilt = run(k=3, params={"rebuild_stats": True})

    assert rebuilt.stats_refreshed == 60
    assert not CustomerStats.objects.filter(frequency=999).exists()


def test_a_run_that_looks_back_in_time_leaves_the_stats_alone(shop):
    run(k=3)

    past = run(k=3, as_of=dt.date(2026, 3, 1))

    assert past.stats_refreshed is None and past.stats_watermark is None
