"""Benchmark: the admin lists a marketer opens, on the 1,000,000-customer shop, in under a second.

Times each list page (the customer list, a deep page of it, a search, a filter, the order list,
a segment's members, first and deep pages) through Django's test client, with the project's
LargeTablePaginator (estimated counts, pages fetched by key) next to Django's own Paginator
measured in the same run (once per page: its deep pages take minutes). Beside the wall-clock
median it prints the CPU seconds the page cost (this process's and its PostgreSQL backend's,
parallel workers left out), which is what it takes on a quiet machine: on a shared one the
wall clock mostly measures the others. Needs a shop loaded and segmented, e.g. by
bench/segmentation.py:

    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/segmentation.py --reuse
    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/admin_lists.py
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings per page; the median is printed")
    parser.add_argument("--baseline-repeat", type=int, default=1, help="timings per page with Django's Paginator")
    parser.add_argument("--baseline-timeout", type=int, default=60,
                        help="seconds a statement of Django's Paginator may take before the page counts as 'over'")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.admin.sites import site
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
    from django.db import OperationalError, connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from segcampaign.pagination import LargeTablePaginator
    from segments.admin import segment_members as segment_admin
    from segments.models import Customer, Order, Segment

    setup_test_environment()
    customers = Customer.objects.count()
    if customers < 10_000:
        raise SystemExit("load and segment the benchmark shop first (see this file's docstring)")
    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True,
                                                                                        "is_superuser": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    biggest = Segment.objects.filter(is_active=True).order_by("-size").first()
    someone = Customer.objects.order_by("pk").values_list("external_id", "email").first()
    pages = {
        "customers, page 1": "/admin/segments/customer/",
        "customers, page 2,000": "/admin/segments/customer/?p=2000",
        "customers, search by email": f"/admin/segments/customer/?q={someone[1] or someone[0]}",
        "customers, search by name": "/admin/segments/customer/?q=Olivia",
        "customers, search by a rare name": "/admin/segments/customer/?q=Zebedee",
        f"customers, last page ({math.ceil(customers / 50):,})": f"/admin/segments/customer/?p={math.ceil(customers / 50)}",
        "customers, filter: SMS consent": "/admin/segments/customer/?sms_consent__exact=1",
        "customers, filter: never ordered": "/admin/segments/customer/?has_orders=no",
        "orders, page 1": "/admin/segments/order/",
        "orders, page 2,000": "/admin/segments/order/?p=2000",
        "orders, returns": "/admin/segments/order/?is_return__exact=1",
        f"segment members ({biggest.size:,}), page 1": f"/admin/segments/segment/{biggest.pk}/change/",
        f"segment members ({biggest.size:,}), page 1,000": f"/admin/segments/segment/{biggest.pk}/change/"
                                                           "?members_page=1000",
    }

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def backend_cpu() -> float:
        try:
            fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the database runs on another machine
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(url: str, repeat: int) -> tuple[float, float]:
        seconds, cpu = [], []
        for _ in range(repeat):
            started, own, db = time.perf_counter(), time.process_time(), backend_cpu()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - own + backend_cpu() - db)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        return statistics.median(seconds), statistics.median(cpu)

    # A page of Django's Paginator that runs out of time is a figure here, not an error to log.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)

    def timed_or_over(url: str, repeat: int, timeout: int) -> tuple[float, float]:
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {timeout * 1000}")
        try:
            return timed(url, repeat)
        except OperationalError:  # the statement ran out of time
            return math.inf, math.inf
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")

    def with_paginator(paginator_class, repeat: int, timeout: int = 0) -> dict[str, tuple[float, float]]:
        for model in (Customer, Order):
            site._registry[model].paginator = paginator_class
        segment_admin.MEMBERS_PAGINATOR = paginator_class
        return {name: timed_or_over(url, repeat, timeout) for name, url in pages.items()}

    client.get(pages["customers, page 1"])  # connections, caches and templates warmed
    ours = with_paginator(LargeTablePaginator, args.repeat)
    django_default = with_paginator(Paginator, args.baseline_repeat, args.baseline_timeout)
    with_paginator(LargeTablePaginator, 1)
    print(f"Admin lists on {customers:,} customers and {Order.objects.count():,} orders, seconds "
          f"(wall: median of {args.repeat}; CPU: of this process and its PostgreSQL backend; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    print(f"  {'page':<44} {'LargeTablePaginator wall / CPU':>31} {'Django Paginator wall / CPU':>29}")
    for name in pages:
        (wall, cpu), (base_wall, base_cpu) = ours[name], django_default[name]
        flag = "" if cpu < 1.0 else "  <- over a second of CPU"
        baseline = (f"{base_wall:>18.3f} / {base_cpu:<8.3f}" if math.isfinite(base_wall)
                    else f"{'over ' + str(args.baseline_timeout) + ' s':>29}")
        print(f"  {name:<44} {wall:>20.3f} / {cpu:<8.3f} {baseline}{flag}")


if __name__ == "__main__":
    main()
