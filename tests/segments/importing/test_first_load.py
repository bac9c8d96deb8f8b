"""A first import of orders into an empty order table on PostgreSQL: COPY straight in,
indexes and constraints built once at the end, all in one transaction."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from segcampaign import bulk, jobs
from segments.importing import ImportFileError, import_orders
from segments.models import Customer, Order

from ..conftest import Worker
from .conftest import FIXTURES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HEADER = "order_id,customer_id,ordered_at,amount,quantity,coupon_code\n"


def orders_csv(tmp_path, rows: int, *, customers: int = 7, extra: str = "", name="orders.csv"):
    lines = [f"O{i},C{i % customers},2024-03-{1 + i % 28:02d} 10:00,{i}.25,{1 + i % 3},{'X' if i % 5 == 0 else ''}\n"
             for i in range(rows)]
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines) + extra)
    return path


def catalog():
    """The order table's indexes and constraints, as PostgreSQL spells them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'segments_order'")
        indexes = sorted(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = 'segments_order'::regclass"
        )
        constraints = sorted(cursor.fetchall())
    return indexes, constraints


@pytest.fixture
def small_chunks(settings):
    settings.IMPORT_CHUNK_ROWS = 4


def test_a_first_import_loads_every_order_and_builds_the_same_indexes_and_constraints(tmp_path, small_chunks):
    before = catalog()
    Customer.objects.create(external_id="C1", email="one@example.com")

    report = import_orders(source=orders_csv(tmp_path, 20))

    assert report.first_load
    assert (report.rows, report.created, report.updated, report.unchanged, report.rejected) == (20, 20, 0, 0, 0)
    assert report.customers_created == 6  # C0, C2..C6: C1 existed
    assert catalog() == before
    assert len(before[0]) == 4 and any(c[0] == "order_external_id_unique" for c in before[1])
    order = Order.objects.select_related("customer").get(external_id="O8")
    assert order.customer.external_id == "C1" and order.customer.email == "one@example.com"
    assert order.amount == 8.25 and order.quantity == 3 and order.coupon_code == ""
    assert order.ordered_at == dt.datetime(2024, 3, 9, 10, 0, tzinfo=dt.timezone.utc)
    assert order.attributes == {} and order.is_return is False
    assert Order.objects.get(external_id="O5").coupon_code == "X"
    assert Order.objects.filter(customer__external_id="C0").count() == 3


def test_it_bumps_existing_customers_once_so_incremental_segmentation_sees_them(tmp_path, small_chunks):
    long_ago = timezone.now() - dt.timedelta(days=3)
    Customer.objects.create(external_id="C1")
    Customer.objects.create(external_id="C99")
    Customer.objects.update(updated_at=long_ago)

    import_orders(source=orders_csv(tmp_path, 10))

    assert Customer.objects.get(external_id="C1").updated_at > long_ago
    assert Customer.objects.get(external_id="C99").updated_at == long_ago  # no orders in the file


def test_a_second_import_upserts_into_the_table_the_first_one_filled(tmp_path, small_chunks):
    import_orders(source=orders_csv(tmp_path, 10))
    text = orders_csv(tmp_path, 12).read_text().replace("O3,C3,2024-03-04 10:00,3.25", "O3,C3,2024-03-04 10:00,9.99")
    (tmp_path / "again.csv").write_text(text)

    report = import_orders(source=tmp_path / "again.csv")

    assert not report.first_load
    assert (report.created, report.updated, report.unchanged) == (2, 1, 9)
    assert str(Order.objects.get(external_id="O3").amount) == "9.99"


def test_a_dry_run_first_import_writes_nothing_and_leaves_the_indexes(tmp_path, small_chunks):
    before = catalog()

    report = import_orders(source=orders_csv(tmp_path, 10), dry_run=True)

    assert report.first_load and report.created == 10
    assert Order.objects.count() == 0 and Customer.objects.count() == 0
    assert catalog() == before


def test_a_file_that_breaks_later_keeps_the_orders_before_the_break(tmp_path, small_chunks):
    before = catalog()
    path = orders_csv(tmp_path, 10, extra="O99,C1,2024-03-01 10:00,1.00,1,,surplus,cells\n")

    with pytest.raises(ImportFileError, match="not valid CSV") as caught:
        import_orders(source=path)

    assert caught.value.report.rows >= 4
    assert Order.objects.count() == caught.value.report.created > 0
    assert catalog() == before


def test_a_failure_while_loading_rolls_everything_back_with_the_indexes(tmp_path, small_chunks, monkeypatch):
    before = catalog()
    calls = []
    real_copy = bulk.copy_rows

    def failing_copy(cursor, table, columns, rows, **options):
        if table == "segments_order":
            calls.append(len(rows))
            if len(calls) == 2:
                raise RuntimeError("the database went away")
        return real_copy(cursor, table, columns, rows, **options)

    monkeypatch.setattr(bulk, "copy_rows", failing_copy)

    with pytest.raises(RuntimeError, match="went away"):
        import_orders(source=orders_csv(tmp_path, 10))

    assert Order.objects.count() == 0 and Customer.objects.count() == 0
    assert catalog() == before


def test_duplicate_order_ids_in_a_first_import_are_rejected_not_loaded(tmp_path, small_chunks):
    path = orders_csv(tmp_path, 6, extra="O2,C2,2024-03-01 10:00,1.00,1,\n")

    report = import_orders(source=path)

    assert report.first_load and report.created == 6 and report.rejected == 1
    assert "duplicate order id: already on line 4" in str(report.errors[0])


def test_online_retail_first_import_sets_the_customers_country(small_chunks):
    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert report.first_load and report.created > 0
    assert Customer.objects.exclude(country="").exists()
    assert Order.objects.filter(amount__lt=0, is_return=True).exists()


def test_external_ids_compare_byte_by_byte():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, collation_name FROM information_schema.columns "
            "WHERE column_name = 'external_id' AND table_name IN ('segments_customer', 'segments_order')"
        )
        assert dict(cursor.fetchall()) == {"segments_customer": "C", "segments_order": "C"}


@pytest.mark.django_db(transaction=True)
def test_a_first_load_job_shows_its_progress_while_it_runs(tmp_path, small_chunks, settings, monkeypatch):
    from django.db import DEFAULT_DB_ALIAS, connections

    from segments.importing import import_job_run
    from segments.models import ImportJob

    job = ImportJob(kind=ImportJob.Kind.ORDERS, options={})
    job.file.save("orders.csv", ContentFile(orders_csv(tmp_path, 12).read_bytes()))  # where uploads are kept
    seen_meanwhile = []
    real_copy = bulk.copy_rows

    def watching_copy(cursor, table, columns, rows, **options):
        if table == "segments_order":
            observer = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                with observer.cursor() as other:
                    other.execute("SELECT rows_processed FROM segments_importjob WHERE id = %s", [job.pk])
                    seen_meanwhile.append(other.fetchone()[0])
            finally:
                observer.close()
        return real_copy(cursor, table, columns, rows, **options)

    monkeypatch.setattr(bulk, "copy_rows", watching_copy)

    job = jobs.job_claim(ImportJob, pk=job.pk)
    with jobs.job_running(job) as progress:
        report = import_job_run(job=job, progress=progress)

    assert report.first_load and report.created == 12
    assert seen_meanwhile == [0, 4, 8]  # committed by the job's own connection, chunk after chunk


def test_a_foreign_key_from_another_table_to_orders_is_dropped_and_restored(tmp_path, small_chunks):
    # A table that points at orders (as campaign attribution will) would block dropping the
    # primary key; it is dropped first and restored last, validated.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE attribution_probe (id serial PRIMARY KEY, "
                       "order_id bigint REFERENCES segments_order (id) DEFERRABLE INITIALLY DEFERRED)")
        definition = "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'attribution_probe'::regclass " \
                     "AND contype = 'f'"
        cursor.execute(definition)
        before = cursor.fetchall()

    report = import_orders(source=orders_csv(tmp_path, 8))

    with connection.cursor() as cursor:
        cursor.execute(definition)
        assert cursor.fetchall() == before == [
            ("FOREIGN KEY (order_id) REFERENCES segments_order(id) DEFERRABLE INITIALLY DEFERRED",)]
        cursor.execute("DROP TABLE attribution_probe")
    assert report.first_load and report.created == 8


def test_the_command_says_when_it_loaded_into_the_empty_table(tmp_path, small_chunks):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("import_orders", str(orders_csv(tmp_path, 6)), stdout=out)
    call_command("import_orders", str(orders_csv(tmp_path, 7, name="more.csv")), stdout=(second := io.StringIO()))

    assert "First load into the empty order table" in out.getvalue()
    assert "First load" not in second.getvalue()


def customer_catalog():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'segments_customer'")
        indexes = sorted(cursor.fetchall())
        cursor.execute("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                       "WHERE conrelid = 'segments_customer'::regclass")
        return indexes, sorted(cursor.fetchall())


@pytest.fixture
def statements():
    """The SQL the default connection runs during the test."""
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_into_an_empty_customer_table_its_indexes_are_built_after_the_customers_too(tmp_path, small_chunks,
                                                                                    statements):
    before = customer_catalog()

    report = import_orders(source=orders_csv(tmp_path, 20))

    assert report.first_load and report.customers_created == 7
    assert any(s.startswith("DROP INDEX customer_phone") for s in statements)
    # Seven: the key, the unique id, email, phone, updated_at and the two name prefixes (migration 0008).
    assert customer_catalog() == before and len(before[0]) == 7
    assert any(s.startswith("DROP INDEX customer_first_name_prefix") for s in statements)
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == [f"C{i}" for i in range(7)]
    assert len(set(Customer.objects.values_list("id", flat=True))) == 7
    # The keys came from the table's sequence: the next customer gets the next one.
    later = Customer.objects.create(external_id="later")
    assert later.id > max(Customer.objects.exclude(pk=later.pk).values_list("id", flat=True))


def test_with_customers_already_there_their_indexes_stay(tmp_path, small_chunks, statements):
    Customer.objects.create(external_id="C3")

    report = import_orders(source=orders_csv(tmp_path, 20))

    assert report.first_load and report.customers_created == 6
    assert not any("customer_phone" in s for s in statements)


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_into_the_empty_table_locks_nothing_and_keeps_the_indexes_throughout(tmp_path, small_chunks,
                                                                                       monkeypatch):
    Customer.objects.create(external_id="C1")
    before, customers_before = catalog(), customer_catalog()
    seen = []
    real_copy = bulk.copy_rows

    def meanwhile():  # on a connection of its own
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")  # a lock held by the dry run fails this
        customer = Customer.objects.create(external_id=f"other-{len(seen)}")
        Order.objects.create(customer=customer, external_id=f"other-{len(seen)}", ordered_at=timezone.now(),
                             amount=1)
        Order.objects.filter(customer=customer).delete()
        return Order.objects.count()

    def watching_copy(cursor, table, columns, rows, **options):
        # Inside the dry run's transaction: its own view of the catalog, the locks it holds,
        # and another connection that reads and writes both tables without waiting.
        seen.append((catalog() == before, customer_catalog() == customers_before))
        with connection.cursor() as own:
            own.execute("SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation IN "
                        "('segments_order'::regclass, 'segments_customer'::regclass)")
            seen.append({mode for (mode,) in own.fetchall()})
        other = Worker(meanwhile)
        other.start()
        assert other.join_result(timeout=30) == 0
        return real_copy(cursor, table, columns, rows, **options)

    monkeypatch.setattr(bulk, "copy_rows", watching_copy)

    report = import_orders(source=orders_csv(tmp_path, 10), dry_run=True)

    assert report.first_load and (report.created, report.customers_created) == (10, 6)
    assert seen and all(s == (True, True) for s in seen[0::2])
    assert all(modes <= {"AccessShareLock"} for modes in seen[1::2])
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 1 + len(seen) // 2  # the other connection's customers
    assert (catalog(), customer_catalog()) == (before, customers_before)
