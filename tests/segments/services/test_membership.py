"""Membership history: rows for movers only, every past run answerable."""

import datetime as dt

import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from segments import frames
from segments.models import Customer, Membership, Order, Segment
from segments.services import membership

from ..conftest import NOW, current_segments, run

pytestmark = pytest.mark.django_db


def test_membership_of_every_past_run_stays_answerable(shop):
    first = run(k=3)
    second = run(k=2)

    at_first = frames.membership_at(first)["segment_id"].nunique()
    at_second = frames.membership_at(second)["segment_id"].nunique()

    assert (at_first, at_second) == (3, 2)
    assert second.moved == 40  # lapsed and new share one segment now; the VIPs stay where they were
    assert Membership.objects.filter(ended_run=second).count() == 40  # every mover's old row was ended
    assert Segment.objects.filter(is_active=True).count() == 2
    assert Segment.objects.filter(is_active=False, retired_at__isnull=False).count() == 2


def test_a_third_run_leaves_the_history_of_the_earlier_ones_alone(shop):
    run(k=3)
    second = run(k=2)
    as_of_second = frames.membership_at(second)

    third = run(k=4)

    after = frames.membership_at(second)
    pd.testing.assert_frame_equal(after, as_of_second)
    assert len(after) == 60 and after.index.is_unique
    assert third.moved == 49
    assert Membership.objects.filter(ended_run__isnull=True).count() == 60


def test_an_incremental_run_keeps_everyone_else_where_they_were(shop):
    run(k=3)
    before = current_segments()
    lapsed = Customer.objects.get(external_id="C0021")
    Order.objects.bulk_create(
        Order(customer=lapsed, external_id=f"back-{i}", ordered_at=NOW - dt.timedelta(days=i * 9), amount=210, quantity=2)
        for i in range(14)
    )
    Customer.objects.filter(pk=lapsed.pk).update(updated_at=timezone.now())

    incremental = run(incremental=True)

    after = current_segments()
    assert incremental.moved == 1
    assert {c: k for c, k in after.items() if c != "C0021"} == {c: k for c, k in before.items() if c != "C0021"}
    assert after["C0021"] == before["C0001"]
    sizes = dict(Segment.objects.filter(is_active=True).values_list("key", "size"))
    assert sum(sizes.values()) == 60
    assert sizes == pd.Series(after).value_counts().to_dict()


@pytest.mark.postgres
def test_a_run_that_writes_many_rows_leaves_the_planner_statistics_of_membership_current(shop, monkeypatch):
    # Until autovacuum came by, the planner took a segment of 326,178 members for 32 and
    # sorted them all for each page of the admin's member list.
    monkeypatch.setattr(membership, "ANALYZE_FROM_ROWS", 50)

    run(k=3)

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [frames.MEMBERSHIP_TABLE])
        assert cursor.fetchone()[0] == Membership.objects.count() == 60


@pytest.mark.postgres
def test_a_page_of_a_segments_members_is_read_from_an_index_alone(shop):
    # The admin's member list keys a page by membership id in customer order: with only an
    # index on the segment, a deep page of a 326,178-member segment read 300,000 rows (1.3 s).
    run(k=3)
    segment = Segment.objects.filter(is_active=True).first()
    page = (
        Membership.objects.filter(segment=segment, ended_run__isnull=True)
        .order_by("customer_id")
        .values_list("pk", flat=True)[20:30]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

        plan = page.explain()

    assert "Index Only Scan using membership_current_by_segment" in plan
