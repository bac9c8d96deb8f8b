import datetime as dt
import threading
import time
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from segments import services
from segments.models import Customer, Membership, Order

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def make_shop(*, groups=None, seed=0, prefix="C"):
    """A small shop with three behaviour groups whose RFM profiles are far apart.

    vip: bought every ~10 days lately, 12-15 orders of ~200; lapsed: 1-2 small orders a
    year ago; newcomers: one order of ~50 in the last three weeks.
    """
    rng = np.random.default_rng(seed)
    groups = groups or {"vip": 20, "lapsed": 20, "new": 20}
    customers, orders = [], []
    n = 0
    for group, count in groups.items():
        for _ in range(count):
            n += 1
            customers.append(Customer(external_id=f"{prefix}{n:04d}", email=f"{prefix.lower()}{n}@example.com"))
            if group == "vip":
                days = np.sort(rng.integers(1, 150, size=rng.integers(12, 16)))
                amounts = rng.normal(200, 20, size=len(days))
            elif group == "lapsed":
                days = rng.integers(330, 400, size=rng.integers(1, 3))
                amounts = rng.normal(30, 5, size=len(days))
            else:
                days = rng.integers(1, 21, size=1)
                amounts = rng.normal(50, 5, size=1)
            for i, (day, amount) in enumerate(zip(days, amounts)):
                orders.append((n, f"{prefix}O{n:04d}-{i}", NOW - dt.timedelta(days=int(day)), amount))
    created = {c.external_id: c for c in Customer.objects.bulk_create(customers)}
    by_number = {int(key[len(prefix):]): c for key, c in created.items()}
    Order.objects.bulk_create(
        Order(
            customer=by_number[n],
            external_id=external_id,
            ordered_at=when,
            amount=Decimal(f"{amount:.2f}"),
            quantity=2,
        )
        for n, external_id, when, amount in orders
    )
    return created


@pytest.fixture
def shop(db):
    return make_shop()


def run(**kwargs):
    """Create and execute one segmentation run in this process; returns the finished run."""
    created = services.segmentation_run_create(**kwargs)
    return services.segmentation_run_execute(run_id=created.pk)


def current_segments():
    """external customer id -> segment key, of the current membership."""
    return dict(
        Membership.objects.filter(ended_run__isnull=True).values_list("customer__external_id", "segment__key")
    )


class Worker(threading.Thread):
    """Runs `work` on a database connection of its own; `join_result` re-raises its error."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None

    def run(self):
        try:
            self.result = self.work()
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            connection.close()

    def join_result(self, timeout=120):
        self.join(timeout)
        assert not self.is_alive(), "the worker thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
