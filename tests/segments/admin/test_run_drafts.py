"""A draft's run page and Make live: what the banner says, who may press the button, and what it does."""

import types

import pytest
from django.urls import reverse
from django.utils.html import escape

from segments.models import Membership, SegmentationRun

from ..conftest import make_shop
from .conftest import run_url, segment_now


@pytest.fixture
def draft(db):
    make_shop()
    live = segment_now(k=3)
    draft = segment_now(k=2, go_live=SegmentationRun.GoLive.NEVER)
    assert draft.is_draft, draft.error
    return types.SimpleNamespace(live=live, run=draft)


def _members():
    return dict(Membership.objects.filter(ended_run__isnull=True).values_list("customer_id", "segment_id"))


def test_a_drafts_page_says_nothing_changed_who_would_move_and_offers_make_live(admin_client, draft):
    html = admin_client.get(run_url(draft.run)).content.decode()

    banner = html[html.index('id="run-draft"'):html.index("</div>", html.index('id="run-draft"'))]
    assert "A draft: nothing has changed yet" in banner
    assert escape(draft.run.draft_reason) in banner
    assert f"<strong>{draft.run.moved}</strong> customers would change segment" in banner
    assert 'id="draft-moves"' in banner
    make_live = reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk])
    assert f'action="{make_live}"' in banner and "csrfmiddlewaretoken" in banner
    assert ">Make live</button>" in banner


def test_make_live_in_admin_makes_the_draft_live_once(admin_client, draft):
    url = reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk])

    response = admin_client.post(url, follow=True)

    draft.run.refresh_from_db()
    assert draft.run.applied and draft.run.applied_by == "admin"
    assert response.redirect_chain[-1][0] == run_url(draft.run)
    html = response.content.decode()
    assert f"Run {draft.run.pk} is live: {draft.run.moved} customers changed segment" in html
    assert 'id="run-live"' in html and ">Make live</button>" not in html
    assert set(_members().values()) == {p["segment_id"] for p in draft.run.profiles}
    memberships = Membership.objects.count()

    again = admin_client.post(url, follow=True)

    assert f"Run {draft.run.pk} was already live; nothing changed." in again.content.decode()
    assert Membership.objects.count() == memberships


def test_make_live_is_a_post(admin_client, draft):
    response = admin_client.get(reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk]))

    assert response.status_code == 405
    draft.run.refresh_from_db()
    assert draft.run.is_draft


def test_staff_without_the_make_live_permission_see_no_button_and_cannot_make_a_draft_live(staff_with, draft):
    staff = staff_with("view_segmentationrun", "add_segmentationrun", "change_segmentationrun")
    before = _members()

    html = staff.get(run_url(draft.run)).content.decode()
    response = staff.post(reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk]))

    assert ">Make live</button>" not in html and "Can make a draft segmentation run live" in html
    assert response.status_code == 403
    draft.run.refresh_from_db()
    assert draft.run.is_draft and _members() == before


def test_staff_with_the_make_live_permission_can_make_a_draft_live(staff_with, draft):
    staff = staff_with("view_segmentationrun", "make_live_segmentationrun")

    assert ">Make live</button>" in staff.get(run_url(draft.run)).content.decode()
    staff.post(reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk]))

    draft.run.refresh_from_db()
    assert draft.run.applied and draft.run.applied_by == staff.user.username


def test_a_draft_overtaken_by_a_newer_live_run_says_so_and_cannot_be_made_live(admin_client, draft):
    newer = segment_now(k=3)
    before = _members()

    html = admin_client.get(run_url(draft.run)).content.decode()
    response = admin_client.post(
        reverse("admin:segments_segmentationrun_make_live", args=[draft.run.pk]), follow=True
    )

    assert "It can no longer be made live." in html and f"Run {newer.pk} went live after this run started" in html
    assert ">Make live</button>" not in html
    assert f"Run {draft.run.pk} was not made live: Run {newer.pk} went live after this run started" in (
        response.content.decode()
    )
    assert _members() == before


def test_the_run_list_says_which_runs_are_drafts(admin_client, draft):
    html = admin_client.get(reverse("admin:segments_segmentationrun_changelist")).content.decode()

    assert '<td class="field-live_display">draft</td>' in html
    assert '<td class="field-live_display">live</td>' in html
    assert "Make live straight away" in html
