"""Segment admin: the list, a segment's page with its members, and renaming."""

import csv
import datetime
import io
import re

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from segments.admin import segment_members
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


# --- the list: live first, retired apart, one live segment per name ---------------------------


def _retired(segmented, name="Old friends"):
    return Segment.objects.create(
        key="old-friends", name=name, algorithm="kmeans", is_active=False, retired_at=segmented.finished_at
    )


def test_the_segment_list_shows_live_segments_and_lists_retired_ones_apart(admin_client, segmented):
    retired = _retired(segmented)
    url = reverse("admin:segments_segment_changelist")

    live = admin_client.get(url).content.decode()
    apart = admin_client.get(url, {"status": "retired"}).content.decode()

    assert retired.key not in live
    assert all(s.key in live for s in Segment.objects.filter(is_active=True))
    assert retired.key in apart
    assert not any(s.key in apart for s in Segment.objects.filter(is_active=True))


def test_live_segments_come_first_whatever_column_sorts_the_list(admin_client, segmented):
    _retired(segmented, name="AAA first by name")
    url = reverse("admin:segments_segment_changelist")

    for order in ("", "1", "-1", "2"):
        html = admin_client.get(url, {"status": "all", "o": order}).content.decode()
        keys = [key for key in re.findall(r'<td class="field-key">([^<]+)</td>', html)]
        assert keys[-1] == "old-friends", (order, keys)


def test_a_segment_cannot_be_renamed_to_the_name_of_another_live_segment(admin_client, segmented):
    first, second = Segment.objects.order_by("pk")[:2]

    response = admin_client.post(
        reverse("admin:segments_segment_change", args=[second.pk]), {"name": first.name.upper(), "description": ""}
    )

    assert response.status_code == 200
    assert escape(f"Another live segment is already called “{first.name.upper()}”") in response.content.decode()
    second.refresh_from_db()
    assert second.name != first.name.upper() and not second.name_locked


def test_a_live_segment_may_take_the_name_of_a_retired_one(admin_client, segmented):
    _retired(segmented, name="Old friends")
    segment = Segment.objects.filter(is_active=True).first()

    response = admin_client.post(
        reverse("admin:segments_segment_change", args=[segment.pk]), {"name": "Old friends", "description": ""}
    )

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Old friends"


# --- the segment page: consent, reach, since when, export ------------------------------------


def _members_of(segment):
    return Customer.objects.filter(memberships__segment=segment, memberships__ended_run__isnull=True)


def test_the_segment_page_shows_consent_and_how_many_each_channel_reaches(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    members = list(_members_of(segment).order_by("pk"))
    Customer.objects.filter(pk__in=[c.pk for c in members[:3]]).update(email_consent=True)
    Customer.objects.filter(pk=members[3].pk).update(email_consent=True, email="")  # consent, no address
    Customer.objects.filter(pk__in=[c.pk for c in members[:2]]).update(sms_consent=True, phone="+447911123456")
    Customer.objects.filter(pk=members[4].pk).update(sms_consent=True)  # consent, no phone

    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()

    assert "Reachable by email: <strong>3</strong>" in html
    assert "reachable by SMS: <strong>2</strong>" in html
    assert "<th>email consent</th>" in html and "<th>SMS consent</th>" in html
    assert "+447911123456" in html


def test_the_segment_page_says_since_when_a_customer_is_in_it_as_a_date(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    SegmentationRun.objects.filter(pk=segmented.pk).update(finished_at=datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.UTC))

    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()

    assert "14 Mar 2026" in html
    assert f"run {segmented.pk}<" not in html


def test_the_segment_page_reach_is_shown_to_staff_who_may_not_see_customers_but_not_the_export(staff_with, segmented):
    segment, page = _largest_segment_page(staff_with("view_segment"))

    html = page.content.decode()
    assert "Reachable by email:" in html
    assert "Export members (CSV)" not in html
    export = reverse("admin:segments_segment_export", args=[segment.pk])
    assert staff_with("view_segment").get(export).status_code == 403


def test_members_export_is_a_streamed_csv_of_every_member_with_contact_consent_and_rfm(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    members = list(_members_of(segment).order_by("pk"))
    Customer.objects.filter(pk=members[0].pk).update(first_name="=HYPERLINK(\"http://x\")", email_consent=True)
    page = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    export = reverse("admin:segments_segment_export", args=[segment.pk])
    assert f'<a href="{export}" class="segcampaign-export">Export members (CSV)</a>' in page

    response = admin_client.get(export)

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0]) == [
        "customer_id", "first_name", "last_name", "email", "phone", "email_consent", "sms_consent",
        "in_segment_since", "recency_days", "frequency", "monetary",
    ]
    assert sorted(row["customer_id"] for row in rows) == sorted(c.external_id for c in members)
    first = next(row for row in rows if row["customer_id"] == members[0].external_id)
    assert first["first_name"] == "'=HYPERLINK(\"http://x\")"
    assert first["email"] == members[0].email and first["email_consent"] == "True"
    assert first["in_segment_since"] == timezone.localdate(segmented.finished_at).isoformat()
    stats = members[0].stats
    assert int(first["frequency"]) == stats.frequency
    assert float(first["monetary"]) == float(stats.monetary)
    assert first["recency_days"].isdigit()


def test_members_export_reads_in_chunks(admin_client, segmented, monkeypatch):
    monkeypatch.setattr(segment_members, "EXPORT_CHUNK_ROWS", 7)
    segment = Segment.objects.order_by("-size").first()

    response = admin_client.get(reverse("admin:segments_segment_export", args=[segment.pk]))

    chunks = list(response.streaming_content)
    assert len(chunks) == -(-segment.size // 7)
    assert sum(chunk.decode().count("\n") for chunk in chunks) == segment.size + 1


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
