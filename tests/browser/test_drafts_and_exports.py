"""Try before apply and the members export, in the browser: a run started in admin is a draft
that a marketer makes live, and a segment's members download as CSV."""

import csv
import io
from pathlib import Path

import pytest

from segments.models import Membership, Segment, SegmentationRun

from .conftest import admin_path, expect, sample_shop

pytestmark = pytest.mark.browser


def test_start_a_draft_run_and_make_it_live(logged_in, transactional_db):
    page = logged_in
    page.on("dialog", lambda dialog: dialog.accept())  # should making it live ask "are you sure?"
    sample_shop()
    page.goto(admin_path("segments_segmentationrun_changelist"))
    form = page.locator("#run-now-form")
    straight_away = form.get_by_label("Make live straight away")
    expect(straight_away).not_to_be_checked()
    page.steps.shot("run-form-draft")

    form.get_by_role("button", name="Run segmentation now").click()

    make_live = page.get_by_role("button", name="Make live", exact=True)
    expect(make_live).to_be_visible()
    page.steps.shot("draft-run")
    run = SegmentationRun.objects.get()
    # A draft changes nobody's segment: a first run's draft leaves every customer in none.
    assert Membership.objects.filter(ended_run__isnull=True).count() == 0

    make_live.click()

    expect(page.get_by_role("button", name="Make live", exact=True)).to_have_count(0)
    page.steps.shot("live-run")
    assert Membership.objects.filter(ended_run__isnull=True).count() == run.n_customers == 300


def test_export_a_segments_members(logged_in, segmented_shop):
    page = logged_in
    segment = Segment.objects.filter(is_active=True).order_by("-size").first()
    page.goto(admin_path("segments_segment_change", segment.pk))

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export members (CSV)", exact=True).click()
    download = downloading.value
    page.steps.shot("segment-export")

    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert {"email", "phone"} <= set(rows[0])
    assert len(rows) == segment.size
    members = Membership.objects.filter(segment=segment, ended_run__isnull=True)
    assert {row["email"] for row in rows} == set(members.values_list("customer__email", flat=True))
