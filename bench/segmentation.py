"""Benchmark: segment 1,000,000 customers with 10,000,000 orders on PostgreSQL.

Prints seconds per stage, total and peak memory of a full run (features, K choice, fit,
membership written), next to the straightforward way (ORM reads per customer, save() per
membership) timed in the same run on a sample and extrapolated; then the same for an
incremental re-segmentation after 1% of customers changed; and how fast membership is written
(rows/s of a whole shop's membership) next to bulk_create and save() per row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/segmentation.py [--customers N] [--reuse]

Loading the shop takes minutes: --reuse keeps the one in the database when it has the asked
number of customers (and loads it otherwise). Each run happens in a fresh Python process so
its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")

# The peak is the process's own high-water mark (VmHWM): ru_maxrss would report the bench's
# peak instead, since Linux carries it over into a child started with vfork and exec. CPU
# seconds are those of the run's process and of its PostgreSQL backend (parallel workers
# not included): on a shared machine they say what the run costs whatever else is running.
RUN_ONE = """
import json, os, resource, sys, django
django.setup()
from django.db import connection
from segments import services

def high_water_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

def backend_cpu(pid):
    try:
        fields = open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()
    except OSError:  # the database runs elsewhere
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
db_before = backend_cpu(backend)
own_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
run = services.segmentation_run_create(incremental={incremental}, triggered_by="bench", params={params})
run = services.segmentation_run_execute(run_id=run.pk)
print(json.dumps({{"status": run.status, "error": run.error, "k": run.k, "timings": run.timings,
                  "moved": run.moved, "n": run.n_customers, "peak_mb": high_water_mb(),
                  "cpu": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - own_before,
                  "db_cpu": backend_cpu(backend) - db_before}}))
"""


def run_in_subprocess(*, incremental: bool, params: dict | None = None) -> dict:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RUN_ONE.format(incremental=incremental, params=repr(params or {}))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    if result["status"] != "succeeded":
        raise SystemExit(f"run failed: {result['error']}")
    return result


def load_shop(n_customers: int, orders_per_customer: float, seed: int) -> tuple[int, int]:
    """Generate the synthetic shop and COPY it in (setup, not measured)."""
    import numpy as np
    import pandas as pd
    from django.db import connection

    from segcampaign.bulk import copy_rows
    from segments.models import Customer, Order
    from segments.sampledata import generate_shop

    shop = generate_shop(
        customers=n_customers, seed=seed, end=dt.date(2026, 11, 1), orders_per_customer=orders_per_customer
    )
    customers, orders = shop.customers, shop.orders
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE segments_membership, segments_segment, segments_segmentationrun, segments_customerstats, "
            "segments_order, segments_customer RESTART IDENTITY CASCADE"
        )
        frame = customers[["external_id", "email", "phone", "first_name", "last_name", "country"]].fillna("")
        for column in ("time_zone", "locale", "email_consent_source", "sms_consent_source"):
            frame[column] = ""
        frame["email_consent"] = frame["sms_consent"] = False
        frame["attributes"] = "{}"
        frame["created_at"] = frame["updated_at"] = now
        copy_rows(cursor, Customer._meta.db_table, list(frame.columns), frame)
        # Identities were restarted, so the n-th customer row has id n.
        position = pd.Series(np.arange(1, len(customers) + 1), index=customers["external_id"].to_numpy())
        for start in range(0, len(orders), 1_000_000):
            chunk = orders.iloc[start : start + 1_000_000]
            out = chunk[["external_id", "ordered_at", "amount", "quantity", "is_return", "coupon_code"]].copy()
            out["customer_id"] = position.reindex(chunk["customer_id"].to_numpy()).to_numpy(dtype=np.int64)
            out["attributes"] = "{}"
            out["created_at"] = out["updated_at"] = now
            copy_rows(cursor, Order._meta.db_table, list(out.columns), out)
        cursor.execute("ANALYZE segments_customer; ANALYZE segments_order;")
    return len(customers), len(orders)


def reset_segmentation() -> tuple[int, int]:
    """Forget every run, segment and the maintained stats, keeping customers and orders."""
    from django.db import connection

    from segments.models import Customer, Order

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE segments_membership, segments_segment, segments_segmentationrun, segments_customerstats "
            "RESTART IDENTITY CASCADE"
        )
        # The incremental step adds bench orders; drop them so every measurement starts alike.
        cursor.execute("DELETE FROM segments_order WHERE external_id LIKE 'bench-%%'")
    return Customer.objects.count(), Order.objects.count()


def straightforward(sample: int, run_id: int) -> float:
    """Seconds per customer the plain ORM way: read each customer's orders, save a membership."""
    from django.db import transaction

    from segments.models import Customer, Membership, Segment, SegmentationRun

    segment = Segment.objects.filter(is_active=True).first()
    run = SegmentationRun.objects.get(pk=run_id)
    customers = list(Customer.objects.order_by("?")[:sample])
    started = time.perf_counter()
    with transaction.atomic():
        for customer in customers:
            orders = list(customer.orders.all())
            bought = [o for o in orders if not o.is_return]
            _ = (
                max((o.ordered_at for o in bought), default=None),
                len(bought),
                sum(float(o.amount) for o in orders),
            )
            Membership(customer=customer, segment=segment, run=run, ended_run=run).save()
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed / sample


def membership_rates(run_id: int, *, bulk_rows: int, save_rows: int) -> dict[str, float]:
    """Rows/s of writing every customer's membership (membership_write, as a first run does),
    of bulk_create and of save() per row; each in a transaction that is rolled back."""
    import numpy as np
    import pandas as pd
    from django.db import connection, transaction

    from segcampaign.dbframes import read_frame
    from segments.models import Membership, Segment, SegmentationRun
    from segments.services.membership import membership_write

    run = SegmentationRun.objects.get(pk=run_id)
    segment_ids = np.array(sorted(Segment.objects.filter(is_active=True).values_list("pk", flat=True)))
    customer_ids = read_frame("SELECT id FROM segments_customer ORDER BY id", columns=["id"])["id"].to_numpy()
    assignment = pd.Series(segment_ids[np.arange(len(customer_ids)) % len(segment_ids)], index=customer_ids)
    rates = {}
    for name, rows in (("membership_write", len(customer_ids)), ("bulk_create", bulk_rows), ("save", save_rows)):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE segments_membership")
            started = time.perf_counter()
            if name == "membership_write":
                membership_write(run=run, assignment=assignment, partial=False)
            elif name == "bulk_create":
                Membership.objects.bulk_create(
                    (Membership(customer_id=c, segment_id=s, run=run) for c, s in assignment.iloc[:rows].items()),
                    batch_size=5_000,
                )
            else:
                for c, s in assignment.iloc[:rows].items():
                    Membership(customer_id=c, segment_id=s, run=run).save()
            rates[name] = rows / (time.perf_counter() - started)
            transaction.set_rollback(True)
    return rates


def change_customers(share: float, seed: int) -> int:
    """Give `share` of customers one new order each, as an import would (bumping updated_at)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(ordered_at) FROM segments_order")
        latest = cursor.fetchone()[0]
        cursor.execute(
            f"""
            WITH picked AS (
                SELECT id FROM segments_customer WHERE random() < %s
            ), added AS (
                INSERT INTO segments_order (customer_id, external_id, ordered_at, amount, quantity, is_return,
                                            coupon_code, attributes, created_at, updated_at)
                SELECT id, 'bench-' || id || '-' || %s, %s, 42.50, 1, false, '', '{{}}', now(), now() FROM picked
                RETURNING customer_id
            )
            UPDATE segments_customer SET updated_at = now() WHERE id IN (SELECT customer_id FROM added)
            """,
            [share, seed, latest],
        )
        return cursor.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-sample", type=int, default=2_000)
    parser.add_argument("--bulk-create-rows", type=int, default=100_000)
    parser.add_argument("--save-rows", type=int, default=2_000)
    parser.add_argument(
        "--reuse", action="store_true",
        help="keep the shop in the database when it has --customers customers (loading takes minutes)",
    )
    parser.add_argument("--keep-shop", action="store_true", help="keep the shop in the database, whatever its size")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/segmentation.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)

    from segments.models import Customer

    t = time.perf_counter()
    if args.keep_shop or (args.reuse and Customer.objects.count() == args.customers):
        n_customers, n_orders = reset_segmentation()
        print(f"setup: kept the shop of {n_customers:,} customers, {n_orders:,} orders; segmentation state cleared")
    else:
        n_customers, n_orders = load_shop(args.customers, args.orders_per_customer, args.seed)
        print(f"setup: {n_customers:,} customers, {n_orders:,} orders loaded in {time.perf_counter() - t:.1f}s")

    full = run_in_subprocess(incremental=False)
    print(f"\nfull run ({full['k']} segments, {full['n']:,} customers):")
    for stage, seconds in full["timings"].items():
        print(f"  {stage:<40} {seconds:8.2f} s")
    print(f"  {'process wall time (incl. Django start)':<40} {full['wall']:8.2f} s")
    print(f"  {'peak memory (VmHWM)':<40} {full['peak_mb']:8.0f} MB")
    print(f"  {'CPU: the run / its PostgreSQL backend':<40} {full['cpu']:8.1f} s / {full['db_cpu']:.1f} s")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end)")

    from segments.models import SegmentationRun

    per_customer = straightforward(args.baseline_sample, SegmentationRun.objects.latest().pk)
    fit_stages = sum(
        v for k, v in full["timings"].items() if k in ("choose_k", "fit", "evaluate")
    )
    baseline = per_customer * n_customers + fit_stages
    print(
        f"\nstraightforward way (ORM read per customer + save() per membership, {args.baseline_sample:,} sampled): "
        f"{per_customer * 1000:.2f} ms per customer -> {baseline:,.0f} s extrapolated (same clustering time)"
    )
    print(f"speed-up: {baseline / full['timings']['total']:.0f}x  (goal: at least 30x)")
    print(f"full run total: {full['timings']['total']:.1f} s (goal: under 30 s), peak {full['peak_mb']:.0f} MB (goal: under 2048 MB)")

    rates = membership_rates(
        SegmentationRun.objects.latest().pk, bulk_rows=args.bulk_create_rows, save_rows=args.save_rows
    )
    print(
        f"\nmembership of all {n_customers:,} customers written (membership_write, COPY): "
        f"{rates['membership_write']:,.0f} rows/s (goal: at least 250,000 rows/s); "
        f"bulk_create ({args.bulk_create_rows:,} rows): {rates['bulk_create']:,.0f} rows/s "
        f"({rates['membership_write'] / rates['bulk_create']:.1f}x slower); "
        f"save() per row ({args.save_rows:,} rows): {rates['save']:,.0f} rows/s "
        f"({rates['membership_write'] / rates['save']:.0f}x slower)"
    )

    changed = change_customers(0.01, args.seed)
    incremental = run_in_subprocess(incremental=True)
    print(f"\nincremental run after {changed:,} customers ({changed / n_customers:.1%}) changed:")
    for stage, seconds in incremental["timings"].items():
        print(f"  {stage:<40} {seconds:8.2f} s")
    print(
        f"incremental: {incremental['timings']['total']:.2f} s = "
        f"{incremental['timings']['total'] / full['timings']['total']:.1%} of the full run (goal: at most 10%), "
        f"{incremental['moved']:,} moved, peak {incremental['peak_mb']:.0f} MB, "
        f"CPU {incremental['cpu']:.1f} s + {incremental['db_cpu']:.1f} s in PostgreSQL "
        f"(full run: {full['cpu']:.1f} s + {full['db_cpu']:.1f} s)"
    )
    refit = run_in_subprocess(incremental=False)
    print(
        f"for comparison, a full refit now: {refit['timings']['total']:.1f} s "
        f"({refit['moved']:,} customers changed segment), peak {refit['peak_mb']:.0f} MB, "
        f"CPU {refit['cpu']:.1f} s + {refit['db_cpu']:.1f} s in PostgreSQL"
    )


if __name__ == "__main__":
    main()
