"""Segment admin: the list, a segment's page with its members, and renaming."""

import re

from django.urls import reverse
from django.utils.html import escape

from segments.models import Customer, Segment, SegmentationRun

from ..conftest import make_shop
from .conftest import legend_of, run_url, segment_now


def test_the_segment_list_shows_each_segment_with_its_last_run(admin_client, segmented):
    html = admin_client.get(reverse("admin:segments_segment_changelist")).content.decode()

    for segment in Segment.objects.all():
        assert escape(segment.name) in html and segment.key in html
    assert f'<a href="{run_url(segmented)}">Run {segmented.pk}</a>' in html
    assert reverse("admin:segments_segment_add") not in html


def test_the_segment_page_lists_its_current_members_with_links(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    members = Customer.objects.filter(memberships__segment=segment, memberships__ended_run__isnull=True)

    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()

    assert f"Customers in this segment now ({segment.size})" in html
    for customer in members:
        assert customer.external_id in html
        assert reverse("admin:segments_customer_change", args=[customer.pk]) in html
    assert escape(segment.profile["description"]) in html
    assert 'name="name"' in html and 'name="description"' in html
    assert 'name="key"' not in html


def test_the_segment_page_pages_members_a_hundred_at_a_time(admin_client, db):
    make_shop(groups={"vip": 130, "lapsed": 20})
    # Forced live: a segment of 87% of the customers would keep the run a draft.
    run = segment_now(k=2, go_live="always")
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    segment = Segment.objects.get(size=130)
    url = reverse("admin:segments_segment_change", args=[segment.pk])
    customer_link = re.compile(r'href="/admin/segments/customer/\d+/change/"')

    first = admin_client.get(url).content.decode()
    second = admin_client.get(url, {"members_page": 2}).content.decode()

    assert len(customer_link.findall(first)) == 100
    assert "customers 1–100 of 130" in first and "?members_page=2" in first
    assert len(customer_link.findall(second)) == 30
    assert set(customer_link.findall(first)).isdisjoint(customer_link.findall(second))


def test_renaming_a_segment_locks_its_name_through_later_runs(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    url = reverse("admin:segments_segment_change", args=[segment.pk])

    response = admin_client.post(url, {"name": "Our best friends", "description": "Send them the VIP email."})

    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.name_locked) == ("Our best friends", True)
    later = segment_now()
    assert later.status == SegmentationRun.Status.SUCCEEDED, later.error
    segment.refresh_from_db()
    assert segment.last_run == later
    assert segment.name == "Our best friends"
    assert "Our best friends" in admin_client.get(run_url(later)).content.decode()


def test_an_earlier_run_page_shows_a_segment_under_its_new_name(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    old_name = segment.name
    segment.name = "Our best friends"
    segment.save()

    html = admin_client.get(run_url(segmented)).content.decode()

    assert f'">Our best friends</a>' in html
    assert legend_of(html, "plot-projection-2d") == (set(segmented.plot_data["names"].values()) - {old_name}) | {
        "Our best friends"
    }


def test_saving_a_segment_without_renaming_it_leaves_the_name_unlocked(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()

    admin_client.post(
        reverse("admin:segments_segment_change", args=[segment.pk]),
        {"name": segment.name, "description": "Only a note."},
    )

    segment.refresh_from_db()
    assert (segment.description, segment.name_locked) == ("Only a note.", False)


def test_segments_and_runs_cannot_be_added_or_deleted_by_hand(admin_client, segmented):
    segment = Segment.objects.first()

    assert admin_client.get(reverse("admin:segments_segment_add")).status_code == 403
    assert admin_client.get(reverse("admin:segments_segment_delete", args=[segment.pk])).status_code == 403
    assert admin_client.get(reverse("admin:segments_segmentationrun_add")).status_code == 403
    assert admin_client.get(run_url(segmented, "delete")).status_code == 403
    assert admin_client.post(run_url(segmented), {"algorithm": "gmm"}).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


# --- who sees the members --------------------------------------------------------------------


def _largest_segment_page(client):
    segment = Segment.objects.order_by("-size").first()
    return segment, client.get(reverse("admin:segments_segment_change", args=[segment.pk]))


def test_a_segment_page_shows_only_how_many_members_to_staff_who_may_not_view_customers(staff_with, segmented):
    segment, page = _largest_segment_page(staff_with("view_segment"))

    html = page.content.decode()
    assert page.status_code == 200
    assert f"Customers in this segment now ({segment.size})" in html
    assert "Who they are is shown to those who may view customers." in html
    members = Customer.objects.filter(memberships__segment=segment, memberships__ended_run__isnull=True)
    for customer in members:
        assert customer.external_id not in html and customer.email not in html


def test_a_segment_page_lists_the_members_to_staff_who_may_view_customers(staff_with, segmented):
    segment, page = _largest_segment_page(staff_with("view_segment", "view_customer"))

    html = page.content.decode()
    members = Customer.objects.filter(memberships__segment=segment, memberships__ended_run__isnull=True)
    assert members and all(customer.email in html for customer in members)
    assert "Who they are is shown" not in html


def test_a_segment_page_is_refused_to_staff_without_the_view_permission_of_segments(staff_with, segmented):
    segment, page = _largest_segment_page(staff_with("view_customer", "view_segmentationrun"))

    assert page.status_code == 403


def test_a_renamed_segment_whose_customers_changed_says_so_on_its_page_until_it_is_saved(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    segment.name, segment.name_locked = "Regulars", True
    segment.profile_changed, segment.profile_change = True, "The customers of 'Regulars' changed in run 7: ..."
    segment.save()
    url = reverse("admin:segments_segment_change", args=[segment.pk])

    html = admin_client.get(url).content.decode()
    admin_client.post(url, {"name": "Regulars", "description": ""})

    assert escape(segment.profile_change) in html and "Saving this page, renamed or not, clears this note." in html
    segment.refresh_from_db()
    assert (segment.profile_changed, segment.profile_change, segment.name) == (False, "", "Regulars")
    assert "Nothing to check" in admin_client.get(url).content.decode()
