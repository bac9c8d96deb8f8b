"""manage.py demo: the whole loop on a small sample shop (segments, then a starter campaign sent),
what it prints, and that a second run is safe.

The admin login it ends with is left to its own tests: only the section's heading is checked.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, CampaignRun, Message
from segments.clustering import RFM_SEGMENTS
from segments.models import Customer, Membership, Segment, SegmentationRun

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = 300
HEADINGS = [
    "1. The sample shop",
    "2. The classic RFM segments (rules, no machine learning)",
    "3. Segmentation by k-means, K chosen by elbow, silhouette and stability",
    "4. A refit keeps each segment's identity",
    "5. A starter campaign for these segments",
    "6. Sending it",
    "7. Admin",
]


@pytest.fixture
def demo():
    """Run the demo. Its campaign run is queued when the demo's transaction commits and runs
    right then (no broker: eagerly), as in `make demo`: hence transactional tests."""

    def run_demo():
        out = StringIO()
        call_command("demo", "--customers", str(CUSTOMERS), "--seed", "3", stdout=out, stderr=StringIO())
        return out.getvalue()

    return run_demo


def rfm_lines(printed):
    section = printed.split(HEADINGS[1])[1].split(HEADINGS[2])[0]
    return dict(
        (name.strip(), int(size.replace(",", "")))
        for name, size in re.findall(r"^   (\S.*?)\s+([\d,]+) customers$", section, re.MULTILINE)
    )


def test_the_demo_loads_a_shop_segments_it_and_says_what_it_found(demo):
    printed = demo()

    positions = [printed.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions)
    assert f"Customers: {CUSTOMERS} created, 0 updated, 0 unchanged, 0 rejected" in printed
    assert f"In the database: {CUSTOMERS:,} customers" in printed
    rfm = rfm_lines(printed)
    assert rfm and set(rfm) <= set(RFM_SEGMENTS) and sum(rfm.values()) == CUSTOMERS
    kmeans = SegmentationRun.objects.filter(algorithm="kmeans").order_by("pk")
    first, refit = kmeans
    assert f"Run {first.pk}: k-means" in printed and f"Segments: {first.k}. {first.k_reason}" in printed
    assert (
        f"Run {refit.pk}: {refit.k} segments, {first.k} of them matched to run {first.pk} by centroid; "
        "0 customers changed segment"
    ) in printed
    assert set(SegmentationRun.objects.values_list("status", "triggered_by")) == {("succeeded", "demo")}
    assert Membership.objects.filter(ended_run__isnull=True).count() == CUSTOMERS
    campaign = Campaign.objects.get(name="Starter campaign")
    run = CampaignRun.objects.get(campaign=campaign)
    sent = Message.objects.filter(run=run, status="sent").count()
    assert run.status == "succeeded" and sent > 0
    assert f"Run {run.pk}: {sent:,} sent, 0 failed" in printed
    assert "Plan (dry run, nothing written) of campaign 'Starter campaign'" in printed
    assert not Message.objects.filter(run=run, status__in=["pending", "claimed", "sending"]).exists()


def test_running_the_demo_again_reimports_nothing_and_keeps_the_segments(demo):
    demo()
    segments = set(Segment.objects.filter(is_active=True).values_list("key", "name"))

    printed = demo()

    assert f"Customers: 0 created, 0 updated, {CUSTOMERS} unchanged, 0 rejected" in printed
    assert "Orders: 0 created, 0 updated" in printed
    assert Customer.objects.count() == CUSTOMERS
    assert SegmentationRun.objects.filter(status="succeeded").count() == 6
    assert set(Segment.objects.filter(is_active=True).values_list("key", "name")) == segments
    assert Membership.objects.filter(ended_run__isnull=True).count() == CUSTOMERS
    assert "0 customers changed segment" in printed
    # The starter campaign is loaded again in place and sent again within its frequency cap.
    assert Campaign.objects.filter(name="Starter campaign").count() == 1
    assert CampaignRun.objects.filter(status="succeeded").count() == 2
