"""Marking customers changed: the one way an order change reaches the next segmentation."""

import datetime as dt

import pytest
from django.utils import timezone

from segments import services
from segments.models import Customer

pytestmark = pytest.mark.django_db


def test_it_stamps_exactly_the_customers_named_and_skips_missing_ones(shop):
    old = timezone.now() - dt.timedelta(days=3)
    Customer.objects.update(updated_at=old)
    named = [shop["C0001"].pk, shop["C0002"].pk, None, shop["C0001"].pk]
    before = timezone.now()

    assert services.customers_mark_changed(customer_ids=named) == 2

    changed = set(Customer.objects.filter(updated_at__gte=before).values_list("external_id", flat=True))
    assert changed == {"C0001", "C0002"}
    assert Customer.objects.filter(updated_at=old).count() == 58


def test_nothing_to_mark_writes_nothing(shop):
    assert services.customers_mark_changed(customer_ids=[None]) == 0
