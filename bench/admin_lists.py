"""Benchmark: the admin lists a marketer opens, on the 1,000,000-customer shop, in under a second.

Times each list page (the customer list, a deep page of it, a search, a filter, the order list,
a segment's members, first and deep pages) through Django's test client, with the project's
LargeTablePaginator (estimated counts, pages fetched by key) next to Django's own Paginator
measured in the same run. Needs a shop loaded and segmented, e.g. by bench/segmentation.py:

    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/segmentation.py --keep-shop
    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/admin_lists.py
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.admin.sites import site
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
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
        "customers, filter: SMS consent": "/admin/segments/customer/?sms_consent__exact=1",
        "customers, filter: never ordered": "/admin/segments/customer/?has_orders=no",
        "orders, page 1": "/admin/segments/order/",
        "orders, page 2,000": "/admin/segments/order/?p=2000",
        "orders, returns": "/admin/segments/order/?is_return__exact=1",
        f"segment members ({biggest.size:,}), page 1": f"/admin/segments/segment/{biggest.pk}/change/",
        f"segment members ({biggest.size:,}), page 1,000": f"/admin/segments/segment/{biggest.pk}/change/"
                                                           "?members_page=1000",
    }

    def timed(url: str) -> float:
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        return statistics.median(seconds)

    def with_paginator(paginator_class) -> dict[str, float]:
        for model in (Customer, Order):
            site._registry[model].paginator = paginator_class
        segment_admin.MEMBERS_PAGINATOR = paginator_class
        return {name: timed(url) for name, url in pages.items()}

    ours = with_paginator(LargeTablePaginator)
    django_default = with_paginator(Paginator)
    with_paginator(LargeTablePaginator)
    print(f"Admin lists on {customers:,} customers and {Order.objects.count():,} orders "
          f"(median of {args.repeat}, seconds):")
    print(f"  {'page':<44} {'LargeTablePaginator':>20} {'Django Paginator':>17}")
    for name in pages:
        flag = "" if ours[name] < 1.0 else "  <- over a second"
        print(f"  {name:<44} {ours[name]:>20.3f} {django_default[name]:>17.3f}{flag}")


if __name__ == "__main__":
    main()
