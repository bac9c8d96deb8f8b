"""Who is in a segment now: the member table of a segment's page, and its CSV export.

Both read the current membership one page (or one chunk) at a time, so a segment of half a
million customers costs what a segment of a hundred does. "In this segment since" is the date
of the run that put the customer there: membership rows are written only when a customer
moves, so that run is when they joined.
"""

from __future__ import annotations

import datetime as dt
import io
from itertools import islice

import pandas as pd
from django.core.cache import cache
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from segcampaign.csvsafe import write_csv
from segcampaign.pagination import LargeTablePaginator
from segments import selectors
from segments.models import Customer, Segment

from .display import admin_url

MEMBERS_PER_PAGE = 100
# Estimated counts and pages fetched by key (bench/admin_lists.py swaps in Django's to compare).
MEMBERS_PAGINATOR = LargeTablePaginator
EXPORT_CHUNK_ROWS = 2_000
REACH_CACHE_SECONDS = 300
EXPORT_LINK_TEXT = "Export members (CSV)"
EXPORT_COLUMNS = [
    "customer_id", "first_name", "last_name", "email", "phone", "email_consent", "sms_consent",
    "in_segment_since", "recency_days", "frequency", "monetary",
]


def joined_on(run_finished_at, run_started_at, run_created_at) -> dt.date | None:
    """The day, in the shop's time zone, a run's membership took effect: when it finished
    (a run that is still writing has not), else when it started or was asked for."""
    moment = run_finished_at or run_started_at or run_created_at
    return timezone.localtime(moment).date() if moment else None


def members_context(request, segment: Segment, *, may_see_customers: bool, link_customers: bool) -> dict:
    """Who is in the segment now, a page at a time, with how many can be reached by email and
    SMS; only the counts for those who may not see customers."""
    # Counting reach joins every member to their customer row: a second on a segment of a
    # third of a million customers. Consent changes slowly; a few minutes' cache is right.
    reach = cache.get_or_set(
        f"segments:admin:reach:{segment.pk}:{segment.last_run_id}",
        lambda: selectors.segment_reach(segment_id=segment.pk),
        REACH_CACHE_SECONDS,
    )
    context = {"reach": reach, "export_link_text": EXPORT_LINK_TEXT}
    if not may_see_customers:
        return {**context, "members_count": reach["members"], "members_hidden": True}
    page = MEMBERS_PAGINATOR(selectors.segment_members(segment_id=segment.pk), MEMBERS_PER_PAGE).get_page(
        request.GET.get("members_page")
    )
    rows = []
    for membership in page.object_list:
        customer, run = membership.customer, membership.run
        rows.append({
            "customer": str(customer),
            "url": admin_url("segments_customer_change", customer.pk) if link_customers else None,
            "email": customer.email,
            "email_consent": customer.email_consent,
            "phone": customer.phone,
            "sms_consent": customer.sms_consent,
            "since": joined_on(run.finished_at, run.started_at, run.created_at) if run else None,
            "run_url": admin_url("segments_segmentationrun_change", membership.run_id),
        })
    return {
        **context,
        "members_count": page.paginator.count,
        "members_page": page,
        "member_rows": rows,
        "export_url": admin_url("segments_segment_export", segment.pk),
    }


def export_response(segment: Segment) -> StreamingHttpResponse:
    """The segment's current members as CSV, written while it is read, a chunk at a time."""
    response = StreamingHttpResponse(_csv_chunks(segment), content_type="text/csv; charset=utf-8")
    filename = f"segment-{slugify(segment.key) or segment.pk}-members-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_chunks(segment: Segment):
    now = timezone.now()
    joined = {pk: joined_on(*moments) for pk, moments in selectors.run_moments().items()}
    rows = selectors.segment_member_export_rows(segment_id=segment.pk, chunk_size=EXPORT_CHUNK_ROWS)
    header = True
    while chunk := list(islice(rows, EXPORT_CHUNK_ROWS)):
        buffer = io.StringIO()
        # Through csvsafe: a name or an address that starts like a formula is written as text.
        write_csv(_export_frame(chunk, now, joined), buffer, header=header)
        header = False
        yield buffer.getvalue()
    if header:  # no members: the header alone, so the file still says what it would hold
        yield ",".join(EXPORT_COLUMNS) + "\n"


def _export_frame(chunk: list[dict], now: dt.datetime, joined: dict[int, dt.date | None]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(chunk).rename(columns={"external_id": "customer_id"})
    frame["in_segment_since"] = frame["joined_run_id"].map(joined)
    # Recency as the segment pages count it: whole days since the last purchase, empty for a
    # customer who never bought (or whose stats the runs have not built yet).
    last = pd.to_datetime(frame["last_order_at"], utc=True)
    frame["recency_days"] = (pd.Timestamp(now) - last).dt.days.astype("Int64")
    frame["frequency"] = frame["frequency"].astype("Int64")
    frame["monetary"] = [None if value is None else float(value) for value in frame["monetary"]]
    return frame[EXPORT_COLUMNS]


def may_see_customers(admin_site, request) -> bool:
    """Whether the user may see who customers are (the member list and its export)."""
    if admin_site.is_registered(Customer):
        return admin_site.get_model_admin(Customer).has_view_or_change_permission(request)
    return request.user.has_perm("segments.view_customer")
