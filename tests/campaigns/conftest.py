"""A segmented shop and a campaign for the campaigns tests."""

import pytest

from campaigns import services
from segments.models import Customer, Segment
from tests.segments.conftest import make_shop, run


@pytest.fixture
def segmented(db):
    """60 customers in three segments (vip, lapsed, new), reachable by email and SMS with consent.

    Addresses are at mail.test, not example.com: the sample shop's guard against real SMS
    keys on example.com.
    """
    make_shop()
    for n, customer in enumerate(Customer.objects.order_by("external_id"), start=1):
        customer.first_name, customer.email = f"Name{n}", f"c{n}@mail.test"
        customer.phone = f"+4477009{n:05d}"
        customer.email_consent = customer.sms_consent = True
        customer.save()
    result = run(k=3)
    assert result.status == "succeeded", result.error
    by_size = {}
    for profile in result.profiles:
        by_size.setdefault(profile["name"], profile["key"])
    return {s.key: s for s in Segment.objects.filter(is_active=True)}


def segment_key(segments, external_id):
    customer = Customer.objects.get(external_id=external_id)
    return customer.memberships.get(ended_run__isnull=True).segment.key


def definition(segments, **overrides):
    """A campaign file: every segment gets the email, quiet hours off, no cap, no holdout."""
    data = {
        "name": "Test campaign",
        "holdout_percent": 0,
        "quiet_hours": None,
        "frequency_cap": None,
        "templates": [
            {"name": "hello-email", "channel": "email", "subject": "Hi {{ customer.first_name }}",
             "html": '<p>{{ offer.discount }} off with {{ offer.code }} <a href="https://shop.test/x">Shop</a> '
                     '<a href="{{ links.unsubscribe }}">Unsubscribe</a></p>', "text": ""},
            {"name": "hello-sms", "channel": "sms", "body": "{{ offer.discount }} off: {{ offer.code }}"},
        ],
        "rules": [
            {"segments": sorted(segments), "channel": "email", "priority": 1,
             "variants": [{"template": "hello-email", "weight": 1}],
             "offer": {"code": "HELLO10", "discount": "10%", "expires_days": 14}},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def campaign(segmented):
    return services.campaign_load(data=definition(segmented))
