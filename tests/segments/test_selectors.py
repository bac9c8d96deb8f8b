"""The reads other code may make of the segments app."""

import datetime as dt

import pytest

from segments import selectors
from segments.models import Customer, Order, SegmentationRun

from .conftest import run

pytestmark = pytest.mark.django_db


def test_history_as_of_a_past_date_ignores_later_orders(shop):
    run(k=3)
    result = run(k=3, as_of=dt.date(2026, 3, 1))

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.as_of == dt.date(2026, 3, 1)
    exported = selectors.segments_export(run=result).set_index("customer_id")
    # Newcomers had not bought yet on that date; the maintained stats still know their order.
    assert (exported.loc[[f"C{n:04d}" for n in range(41, 61)], "frequency"] == 0).all()
    assert Customer.objects.get(external_id="C0041").stats.frequency == 1


def test_the_latest_successful_run_skips_failed_and_excluded_runs(shop):
    good = run(k=3)
    newer = run(k=2)
    run(feature_names=["nope"])

    assert selectors.latest_successful_run() == newer
    assert selectors.latest_successful_run(exclude=newer.pk) == good


def test_runs_with_centroids_leave_out_the_rfm_grid_and_hdbscan_is_no_base_for_increments(shop):
    kmeans = run(k=3)
    run(algorithm="rfm")
    hdbscan = run(algorithm="hdbscan")

    assert list(selectors.runs_with_centroids()) == [hdbscan, kmeans]
    assert selectors.latest_run_with_centroids() == kmeans


def test_the_stats_watermark_is_that_of_the_latest_run_that_refreshed_them(shop):
    assert selectors.latest_stats_watermark() is None
    first = run(k=3)
    run(k=3, as_of=dt.date(2026, 3, 1))  # history: refreshes nothing

    assert selectors.latest_stats_watermark() == first.stats_watermark
    assert selectors.latest_stats_watermark(exclude=first.pk) is None


def test_the_latest_order_date(shop):
    assert selectors.latest_order_at() == Order.objects.order_by("-ordered_at").first().ordered_at


def test_there_is_nothing_to_export_before_the_first_run(shop):
    assert selectors.segments_export() is None
