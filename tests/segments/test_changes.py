"""Imports and segmentation runs at the same time: whatever an import writes while a run
refreshes the order stats reaches the stats of the next run, full or incremental."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from segcampaign import bulk
from segments import services
from segments.importing import import_orders
from segments.models import Customer, CustomerStats, Order

from .conftest import NOW, Worker, make_shop, run, until

pytestmark = pytest.mark.django_db(transaction=True)

LATE = ["C0001", "C0021", "C0041"]  # a vip, a lapsed customer, a newcomer


def late_orders(tmp_path, customers, *, prefix="late", day="2026-06-29"):
    path = tmp_path / f"{prefix}.csv"
    path.write_text("order_id,customer_id,ordered_at,amount,quantity\n" + "".join(
        f"{prefix}-{i},{customer},{day} 10:00,1000.00,1\n" for i, customer in enumerate(customers)
    ))
    return path


def stats_match_the_orders(external_ids):
    """Each customer's stored stats against its orders as they are now."""
    for customer in Customer.objects.filter(external_id__in=external_ids).annotate(
        bought=Count("orders", filter=Q(orders__is_return=False)), spent=Sum("orders__amount")
    ):
        stats = CustomerStats.objects.get(pk=customer.pk)
        assert (stats.frequency, stats.monetary) == (customer.bought, customer.spent), customer.external_id


def waiting_on_an_advisory_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
def test_orders_an_import_commits_while_a_run_refreshes_the_stats_reach_the_next_runs(tmp_path, monkeypatch):
    make_shop()
    run(k=3)
    written, release = threading.Event(), threading.Event()
    real_upsert = bulk.upsert_rows

    def upsert_then_hold_the_transaction_open(cursor, **options):
        result = real_upsert(cursor, **options)
        if options["table"] == "segments_order":
            written.set()
            release.wait(60)
        return result

    monkeypatch.setattr(bulk, "upsert_rows", upsert_then_hold_the_transaction_open)
    importing = Worker(lambda: import_orders(source=late_orders(tmp_path, LATE)))
    importing.start()
    assert written.wait(30)
    # A run starts while the chunk is written but not committed: it either waits for the
    # chunk or does not see it, and then the next run must.
    overlapping = Worker(lambda: run(k=3))
    overlapping.start()
    until(lambda: not overlapping.is_alive() or waiting_on_an_advisory_lock())
    release.set()
    assert importing.join_result().created == 3
    assert overlapping.join_result().status == "succeeded"

    incremental = run(incremental=True)
    assert incremental.status == "succeeded"
    stats_match_the_orders(LATE)
    assert run(k=3).status == "succeeded"
    stats_match_the_orders(LATE)


def test_a_customer_an_import_stamped_before_a_run_is_stamped_again_for_orders_after_it(tmp_path, settings):
    # Chunk 1 stamps the customer, a run refreshes its stats, chunk 2 adds another of its
    # orders: "once per import" must not mean "not again after a run saw the first stamp".
    settings.IMPORT_CHUNK_ROWS = 2
    make_shop()
    run(k=3)
    path = late_orders(tmp_path, ["C0001", "C0002", "C0001", "C0003"])
    between = []

    def run_between_chunks(rows):
        if not between:
            between.append(run(k=3))

    report = import_orders(source=path, on_rows=run_between_chunks)

    assert report.created == 4 and between[0].status == "succeeded"
    assert run(incremental=True).status == "succeeded"
    stats_match_the_orders(["C0001", "C0002", "C0003"])


@pytest.mark.postgres
def test_an_order_changed_by_hand_while_a_run_refreshes_reaches_the_next_run():
    # What admin does when an order is saved: the order, then its customer marked changed,
    # in one transaction, which here stays open while a run starts.
    shop = make_shop()
    run(k=3)
    marked, release = threading.Event(), threading.Event()

    def change_an_order():
        with transaction.atomic():
            Order.objects.create(customer=shop["C0021"], external_id="by-hand", ordered_at=NOW,
                                 amount=Decimal("1000.00"), quantity=1)
            services.customers_mark_changed(customer_ids=[shop["C0021"].pk])
            marked.set()
            release.wait(60)

    editing = Worker(change_an_order)
    editing.start()
    assert marked.wait(30)
    overlapping = Worker(lambda: run(k=3))
    overlapping.start()
    until(lambda: not overlapping.is_alive() or waiting_on_an_advisory_lock())
    release.set()
    editing.join_result()
    assert overlapping.join_result().status == "succeeded"

    assert run(incremental=True).status == "succeeded"
    stats_match_the_orders(["C0021"])
