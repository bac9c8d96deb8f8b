"""Benchmark: import 1,000,000 order rows from CSV into PostgreSQL through import_orders.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/import_orders.py

Prints, measured in the same run:
- import_orders: rows/s for a first import (100k new customers, 1M new orders into the empty
  order table), peak memory;
- the same file again: rows/s when every row is unchanged (nothing is written);
- Django's bulk_create of Order objects on 100,000 rows, and save() per Order on 2,000 rows
  (in one transaction), rows/s, for comparison.
Tables are truncated between measurements. Goal: at least 250,000 rows/s on 2 cores.
Options: --rows N, --customers N, --bulk-create-rows N, --save-rows N, --regenerate, --profile (cProfile
of the first import, top functions by cumulative time).
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")


def write_orders_csv(path: Path, *, rows: int, customers: int, seed: int = 7, block: int = 200_000,
                     first_id: int = 1) -> None:
    """Order rows made with NumPy in blocks (so generating does not set the memory peak)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01T00:00:00")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write("order_id,customer_id,ordered_at,amount,quantity,coupon_code\n")
        for first in range(0, rows, block):
            n = min(block, rows - first)
            ids = np.char.add("ORD", np.arange(first_id + first, first_id + first + n).astype(str))
            customer = np.char.add("C", rng.integers(1, customers + 1, n).astype(str))
            when = start + rng.integers(0, 2 * 365 * 86400, n).astype("timedelta64[s]")
            quantity = rng.integers(1, 8, n)
            amount = np.round(rng.gamma(2.0, 25.0, n) * quantity, 2)
            returns = rng.random(n) < 0.03
            amount = np.where(returns, -amount, amount)
            coupon = np.where(rng.random(n) < 0.1, "SPRING10", "")
            frame = pd.DataFrame(
                {"order_id": ids, "customer_id": customer, "ordered_at": np.datetime_as_string(when, unit="s"),
                 "amount": amount, "quantity": quantity, "coupon_code": coupon}
            )
            frame.to_csv(out, header=False, index=False)


def copy_floor(path: Path, *, rows: int) -> float:
    """Seconds the database itself needs to take `rows` new orders: the ceiling for any import."""
    from django.db import connection, transaction
    from django.utils import timezone

    from segcampaign import bulk

    sample = pd.read_csv(path, nrows=rows, dtype={"order_id": str, "customer_id": str, "coupon_code": str},
                         keep_default_na=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT external_id, id FROM segments_customer")
        customer_pk = dict(cursor.fetchall())
    now = timezone.now()
    frame = pd.DataFrame(
        {
            "external_id": "FLOOR" + sample["order_id"],
            "customer_id": sample["customer_id"].map(customer_pk).astype("int64"),
            "ordered_at": pd.to_datetime(sample["ordered_at"], utc=True),
            "amount": sample["amount"],
            "quantity": sample["quantity"],
            "is_return": sample["amount"] < 0,
            "coupon_code": sample["coupon_code"],
            "attributes": "{}",
            "created_at": now,
            "updated_at": now,
        }
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            started = time.perf_counter()
            bulk.copy_rows(cursor, "segments_order", list(frame.columns), frame)
            elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--bulk-create-rows", type=int, default=100_000)
    parser.add_argument("--save-rows", type=int, default=2_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import")
    call_command("migrate", verbosity=0)

    from segments.importing import import_orders
    from segments.models import Customer, Order

    path = ROOT / "bench" / "out" / f"orders_{args.rows}.csv"
    if args.regenerate or not path.exists():
        started = time.perf_counter()
        write_orders_csv(path, rows=args.rows, customers=args.customers)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")

    def truncate():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE segments_order, segments_customer RESTART IDENTITY CASCADE")
            cursor.execute("VACUUM ANALYZE segments_order")
            cursor.execute("VACUUM ANALYZE segments_customer")

    print(f"PostgreSQL {connection.pg_version}, chunk {settings.IMPORT_CHUNK_ROWS:,} rows, {os.cpu_count()} CPUs")
    rss_before = peak_rss_mb()

    truncate()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = import_orders(source=path)
    first = time.perf_counter() - started
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    assert report.rejected == 0, report.errors[:5]
    print(
        f"import_orders, first import: {report.rows:,} rows in {first:.2f} s = {report.rows / first:,.0f} rows/s "
        f"({report.created:,} orders and {report.customers_created:,} customers created)"
    )
    print(
        f"  {'first load into the empty table (indexes built at the end)' if report.first_load else 'upserts'}; "
        f"time spent: preparing (pandas, in a thread) {report.timings['prepare']:.2f} s, "
        f"writing {report.timings['write']:.2f} s, waiting for the next chunk {report.timings['wait']:.2f} s, "
        f"finishing (index builds) {report.timings.get('finish', 0):.2f} s"
    )
    print(f"  peak RSS: {peak_rss_mb():,.0f} MB (before the import: {rss_before:,.0f} MB)")

    floor_rows = min(args.bulk_create_rows, args.rows)
    floor = copy_floor(path, rows=floor_rows)
    print(
        f"floor: COPY of {floor_rows:,} new orders straight into segments_order (all its indexes, foreign key "
        f"checked, no validation, no upsert; rolled back): {floor_rows / floor:,.0f} rows/s"
    )

    started = time.perf_counter()
    again = import_orders(source=path)
    second = time.perf_counter() - started
    print(
        f"import_orders, same file again: {again.rows:,} rows in {second:.2f} s = {again.rows / second:,.0f} rows/s, "
        f"{again.unchanged:,} unchanged, {again.created + again.updated:,} written "
        f"(preparing {again.timings['prepare']:.2f} s, writing {again.timings['write']:.2f} s)"
    )

    # The everyday import: new orders into a table that already holds the history (upserts).
    later_rows = max(args.rows // 10, 1)
    later = ROOT / "bench" / "out" / f"orders_next_{later_rows}.csv"
    if args.regenerate or not later.exists():
        write_orders_csv(later, rows=later_rows, customers=args.customers, seed=8, first_id=args.rows + 1)
    started = time.perf_counter()
    nxt = import_orders(source=later)
    elapsed = time.perf_counter() - started
    print(
        f"import_orders, {later_rows:,} new orders into the {report.rows:,}-order table: {elapsed:.2f} s = "
        f"{nxt.rows / elapsed:,.0f} rows/s ({nxt.created:,} created; every index and the foreign key maintained)"
    )

    # The ORM way, on the same rows: customers exist, Order objects are built and bulk_created.
    n = min(args.bulk_create_rows, args.rows)
    truncate()
    sample = pd.read_csv(path, nrows=n, dtype={"order_id": str, "customer_id": str, "coupon_code": str},
                         keep_default_na=False)
    Customer.objects.bulk_create(Customer(external_id=c) for c in sample["customer_id"].unique())
    customer_ids = dict(Customer.objects.values_list("external_id", "id"))
    ordered_at = pd.to_datetime(sample["ordered_at"]).dt.tz_localize(settings.TIME_ZONE).dt.to_pydatetime()
    started = time.perf_counter()
    objects = [
        Order(external_id=o, customer_id=customer_ids[c], ordered_at=t, amount=round(a, 2), quantity=q,
              is_return=a < 0, coupon_code=cc)
        for o, c, t, a, q, cc in zip(sample["order_id"], sample["customer_id"], ordered_at, sample["amount"],
                                     sample["quantity"], sample["coupon_code"])
    ]
    built = time.perf_counter() - started
    Order.objects.bulk_create(objects, batch_size=5_000)
    orm = time.perf_counter() - started
    print(
        f"bulk_create of Order objects: {n:,} rows in {orm:.2f} s = {n / orm:,.0f} rows/s "
        f"(of which building the objects {built:.2f} s)"
    )
    # The plainest way: one save() (one INSERT) per order, in one transaction, rolled back.
    saves = objects[: min(args.save_rows, n)]
    with transaction.atomic():
        started = time.perf_counter()
        for order in saves:
            order.pk = None
            order.external_id = f"SAVE-{order.external_id}"
            order.save()
        per_row = len(saves) / (time.perf_counter() - started)
        transaction.set_rollback(True)
    print(f"save() per Order: {len(saves):,} rows at {per_row:,.0f} rows/s")
    print(
        f"import_orders is {(report.rows / first) / (n / orm):.1f}x bulk_create and "
        f"{(report.rows / first) / per_row:.0f}x save() per row "
        f"(first import {report.rows / first:,.0f} rows/s vs {n / orm:,.0f} and {per_row:,.0f} rows/s; "
        f"goal 250,000 rows/s)"
    )
    truncate()


if __name__ == "__main__":
    main()
