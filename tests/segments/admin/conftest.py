"""Fixtures of the admin page tests: a hand-made shop of three customers, and real segmentation runs."""

import datetime
import json
import re
import types
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse

from segments import services
from segments.models import Customer, Order, SegmentationRun

from ..conftest import make_shop

UTC = datetime.timezone.utc


@pytest.fixture(autouse=True)
def no_cached_choices():
    # The country filter caches its choices; a test must not see the previous test's countries.
    cache.clear()


@pytest.fixture
def staff_with(client, django_user_model):
    """Log `client` in as a new staff member with exactly these permissions (codenames); returns the client.

    The user is client.user; call it again for another user (the client switches to them).
    """

    def login(*codenames, username=None):
        permissions = list(Permission.objects.filter(content_type__app_label="segments", codename__in=codenames))
        assert sorted(p.codename for p in permissions) == sorted(codenames), "unknown permission codename"
        user = django_user_model.objects.create_user(
            username or f"staff{django_user_model.objects.count()}", password="not-used", is_staff=True
        )
        user.user_permissions.add(*permissions)
        client.force_login(user)
        client.user = user
        return client

    return login


def make_customer(external_id, **fields):
    return Customer.objects.create(external_id=external_id, **fields)


def make_order(customer, external_id, day, amount, *, is_return=False, coupon_code="", quantity=1):
    return Order.objects.create(
        customer=customer,
        external_id=external_id,
        ordered_at=datetime.datetime(2025, 1, 1, 12, tzinfo=UTC) + datetime.timedelta(days=day),
        amount=Decimal(amount),
        quantity=quantity,
        is_return=is_return,
        coupon_code=coupon_code,
    )


@pytest.fixture
def shop(db):
    """Emma (three orders, one a return), Lukas (one order) and Zoë (none).

    Overrides the segmentation shop of tests/segments/conftest.py, which the run and
    segment pages build with make_shop() instead.
    """
    emma = make_customer(
        "C000001", first_name="Emma", last_name="Smith", email="emma.smith@example.com", phone="+447911123456",
        country="United Kingdom", email_consent=True, attributes={"complains": 2, "money_spent": 120.5},
    )
    lukas = make_customer(
        "C000002", first_name="Lukas", last_name="Müller", email="lukas@example.org", phone="+4915112345678",
        country="Germany", sms_consent=True,
    )
    nobody = make_customer("C000003", first_name="Zoë", last_name="Visser", country="Netherlands")
    make_order(emma, "O1", 0, "40.00")
    make_order(emma, "O2", 30, "60.00", coupon_code="SAVE10")
    make_order(emma, "O3", 33, "-20.00", is_return=True)
    make_order(lukas, "O4", 10, "15.50")
    return types.SimpleNamespace(emma=emma, lukas=lukas, nobody=nobody)


def segment_now(**kwargs):
    created = services.segmentation_run_create(**kwargs)
    return services.segmentation_run_execute(run_id=created.pk)


@pytest.fixture
def segmented(db):
    make_shop()
    run = segment_now()
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    return run


def run_url(run, view="change"):
    return reverse(f"admin:segments_segmentationrun_{view}", args=[run.pk])


def legend_of(html, div_id):
    """Trace names of the figure the page draws into `div_id`, from its JSON (<script id=div_id>)."""
    match = re.search(rf'<script type="application/json" id="{div_id}">(.*?)</script>', html, re.S)
    return {trace["name"] for trace in json.loads(match.group(1))["data"]}
