"""Upserts: a re-import changes nothing, changes write only what changed, and customers
whose orders change get a fresh updated_at (incremental segmentation reads it)."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.db.models import Count
from django.utils import timezone

from segcampaign import bulk
from segments.importing import import_customers, import_orders
from segments.importing.writing import CHUNK_ATTEMPTS
from segments.models import Customer, Order

from ..conftest import Worker
from .conftest import FIXTURES, UTC, write

pytestmark = pytest.mark.django_db


def test_reimporting_the_same_customers_file_changes_nothing():
    import_customers(source=FIXTURES / "customers.csv")
    before = dict(Customer.objects.values_list("external_id", "updated_at"))

    report = import_customers(source=FIXTURES / "customers.csv")

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 6, 2)
    assert dict(Customer.objects.values_list("external_id", "updated_at")) == before


def test_a_reimport_updates_only_the_columns_the_file_has_and_merges_attributes(tmp_path):
    import_customers(source=FIXTURES / "customers.csv")
    ana = Customer.objects.get(external_id="C001")
    ana.attributes = {**ana.attributes, "kept": "yes"}
    ana.save()
    touched_before = Customer.objects.get(external_id="C001").updated_at
    path = write(tmp_path, "customer_id,first_name,vip_level,new_key\nC001,Anna,3,x\nC002,Bob,1.5,\n")

    report = import_customers(source=path)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    ana = Customer.objects.get(external_id="C001")
    assert ana.first_name == "Anna"
    assert ana.phone == "+447911123456" and ana.email == "ana.silva@example.com"  # no such columns: kept
    assert ana.attributes == {"vip_level": 3, "kept": "yes", "new_key": "x"}
    assert ana.updated_at > touched_before
    assert Customer.objects.get(external_id="C002").attributes == {"vip_level": 1.5}


def test_an_empty_cell_of_a_column_the_file_has_does_blank_the_field(tmp_path):
    import_customers(source=FIXTURES / "customers.csv")

    import_customers(source=write(tmp_path, "customer_id,phone\nC001,\n"))

    assert Customer.objects.get(external_id="C001").phone == ""


def test_new_and_changed_customers_get_a_fresh_updated_at(tmp_path):
    started = timezone.now()
    import_customers(source=FIXTURES / "simple_segmentation.csv")
    assert all(c.updated_at >= started for c in Customer.objects.all())
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))

    import_customers(source=write(tmp_path, "customer_id,complains\n1,0\n2,5\n"))

    recent = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert recent == {"2"}


def test_reimporting_orders_reports_them_unchanged_and_leaves_customers_alone():
    import_orders(source=FIXTURES / "orders.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))

    report = import_orders(source=FIXTURES / "orders.csv")

    assert (report.created, report.updated, report.unchanged, report.customers_created) == (0, 0, 3, 0)
    assert set(Customer.objects.values_list("updated_at", flat=True)) == {dt.datetime(2020, 1, 1, tzinfo=UTC)}


def test_a_changed_order_is_updated_and_bumps_its_customers(tmp_path):
    import_orders(source=FIXTURES / "orders.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    started = timezone.now()
    # O-1 gets a new amount; O-3 moves from C777 to C001: both customers changed.
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nO-1,C001,2024-03-31 14:05,61.00\n"
                           "O-3,C001,2024-04-03,12.00\n")

    report = import_orders(source=path)

    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert Order.objects.get(external_id="O-1").amount == Decimal("61.00")
    assert Order.objects.get(external_id="O-1").coupon_code == "SPRING10"  # not in this file: kept
    bumped = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert bumped == {"C001", "C777"}


def test_new_orders_bump_their_existing_customers(tmp_path):
    import_customers(source=FIXTURES / "simple_segmentation.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    started = timezone.now()

    import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nX,2,2024-01-01,5\n"))

    bumped = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert bumped == {"2"}


def test_an_order_moved_to_another_customer_bumps_both_customers_and_no_one_else(tmp_path):
    # Incremental segmentation re-reads customers whose updated_at moved: the customer an
    # order left has lost spend, the one it went to has gained it.
    import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nO1,A,2024-03-01,10\n"
                                         "O2,B,2024-03-02,20\nO3,C,2024-03-03,30\n", name="one.csv"))
    long_ago = timezone.now() - dt.timedelta(days=3)
    Customer.objects.update(updated_at=long_ago)

    report = import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nO1,B,2024-03-01,10\n"
                                                  "O2,B,2024-03-02,20\nO3,C,2024-03-03,30\n", name="two.csv"))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert Order.objects.get(external_id="O1").customer.external_id == "B"
    bumped = {c.external_id for c in Customer.objects.all() if c.updated_at > long_ago}
    assert bumped == {"A", "B"}


def orders_for(tmp_path, name, customers):
    lines = "".join(f"{name}-{i},{customer},2024-03-01 10:00,10.00,1\n" for i, customer in enumerate(customers))
    return write(tmp_path, "order_id,customer_id,ordered_at,amount,quantity\n" + lines, name=f"{name}.csv")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_new_customers_in_opposite_orders_both_succeed(tmp_path, monkeypatch):
    # Each inserts the new customers of its chunk in one statement: in file order, A would
    # lock C0001 first and B C2000, and they would meet in the middle, each waiting for the other.
    Customer.objects.create(external_id="existing")
    Order.objects.create(customer=Customer.objects.get(), external_id="seed", ordered_at=timezone.now(),
                         amount=Decimal("1.00"))  # not a first load: chunks of upserts
    customers = [f"C{i:04d}" for i in range(1, 2001)]
    both_ready = threading.Barrier(2, timeout=30)
    real_upsert = bulk.upsert_rows

    def upsert_together(cursor, **options):
        if options["table"] == "segments_customer":
            both_ready.wait()  # both at the customers' INSERT at once
        return real_upsert(cursor, **options)

    monkeypatch.setattr(bulk, "upsert_rows", upsert_together)
    a = Worker(lambda: import_orders(source=orders_for(tmp_path, "A", customers)))
    b = Worker(lambda: import_orders(source=orders_for(tmp_path, "B", customers[::-1])))
    a.start(), b.start()

    reports = [a.join_result(), b.join_result()]

    assert [r.created for r in reports] == [2000, 2000]
    assert sum(r.customers_created for r in reports) == 2000
    assert Customer.objects.count() == 2001
    assert Order.objects.count() == 4001
    assert set(Customer.objects.annotate(n=Count("orders")).exclude(external_id="existing")
               .values_list("n", flat=True)) == {2}


@pytest.mark.postgres
def test_a_chunk_the_database_aborts_with_a_deadlock_is_written_again(tmp_path, monkeypatch):
    real_upsert = bulk.upsert_rows
    attempts = []

    def deadlocked_once(cursor, **options):
        if options["table"] == "segments_order":
            attempts.append(1)
            if len(attempts) == 1:
                cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' "
                               "USING ERRCODE = 'deadlock_detected'; END $$")
        return real_upsert(cursor, **options)

    monkeypatch.setattr(bulk, "upsert_rows", deadlocked_once)
    Order.objects.create(customer=Customer.objects.create(external_id="C1"), external_id="seed",
                         ordered_at=timezone.now(), amount=Decimal("1.00"))

    report = import_orders(source=orders_for(tmp_path, "A", ["C1", "C2", "C3"]))

    assert len(attempts) == 2 and report.created == 3 and report.customers_created == 2
    assert Order.objects.count() == 4 and Customer.objects.count() == 3


@pytest.mark.postgres
def test_a_chunk_that_keeps_deadlocking_fails_after_a_few_attempts(tmp_path, monkeypatch):
    real_upsert = bulk.upsert_rows
    attempts = []

    def always_deadlocked(cursor, **options):
        if options["table"] == "segments_order":
            attempts.append(1)
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' "
                           "USING ERRCODE = 'deadlock_detected'; END $$")
        return real_upsert(cursor, **options)

    monkeypatch.setattr(bulk, "upsert_rows", always_deadlocked)
    Order.objects.create(customer=Customer.objects.create(external_id="C1"), external_id="seed",
                         ordered_at=timezone.now(), amount=Decimal("1.00"))

    with pytest.raises(OperationalError, match="deadlock detected"):
        import_orders(source=orders_for(tmp_path, "A", ["C1", "C2"]))

    assert len(attempts) == CHUNK_ATTEMPTS
    assert Order.objects.count() == 1
