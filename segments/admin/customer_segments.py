"""The segment of a customer on the customer pages: a column and a filter of the list, and the
current segment with its history on a customer's page.

All three read the current membership (ended_run IS NULL), which the partial unique index
one_current_membership holds one row per customer for: the column is one index lookup per row
of the page, the filter one semi-join, never a per-row query from Python.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, Subquery
from django.utils.html import format_html, format_html_join

from segments import selectors
from segments.models import Membership

from .display import admin_url, day
from .segment_members import joined_on

def _current(customer=OuterRef("pk")):
    return Membership.objects.filter(customer=customer, ended_run__isnull=True).order_by()


def annotate_current_segment(queryset):
    """The customers with `segment_id_now` and `segment_name_now`: one subquery each, by index."""
    return queryset.annotate(
        segment_id_now=Subquery(_current().values("segment_id")[:1]),
        segment_name_now=Subquery(_current().values("segment__name")[:1]),
    )


class SegmentFilter(admin.SimpleListFilter):
    title = "segment"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        # Live segments only: a retired segment has no members now. (No "in no segment" choice:
        # finding the few customers without a membership means looking at every customer.)
        return [(str(segment.pk), segment.name) for segment in selectors.live_segments()]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            # EXISTS on the customer's current membership: an index read per customer the
            # page looks at, or, for a small segment, the segment's members by its index.
            return queryset.filter(Exists(_current().filter(segment_id=int(value))))
        return queryset


def segment_cell(customer) -> str:
    """The list's segment column: the segment's name, linking to its page."""
    if customer.segment_id_now is None:
        return "-"
    url = admin_url("segments_segment_change", customer.segment_id_now)
    if url is None:
        return customer.segment_name_now
    return format_html('<a href="{}">{}</a>', url, customer.segment_name_now)


def _segment_link(segment, *, element_id: str = "") -> str:
    url = admin_url("segments_segment_change", segment.pk)
    label = segment.name if segment.is_active else f"{segment.name} (retired)"
    if not url:
        return label
    # The current segment's link has an id, so a browser test (or a user's script) finds it.
    if element_id:
        return format_html('<a href="{}" id="{}">{}</a>', url, element_id, label)
    return format_html('<a href="{}">{}</a>', url, label)


def _run_day(run) -> str:
    """The day a run's membership took effect (the day the customer joined or left)."""
    return day(joined_on(run.finished_at, run.started_at, run.created_at)) if run else "-"


def current_segment_block(customer) -> str:
    """The customer's segment now, since when, and what the segment is like."""
    history = selectors.customer_segment_history(customer_id=customer.pk, limit=1)
    current = history[0] if history and history[0].ended_run_id is None else None
    if current is None:
        return "In no segment: the customer joins one at the next segmentation run."
    description = current.segment.profile.get("description", "") if current.segment.profile else ""
    return format_html(
        "{} since {}{}",
        _segment_link(current.segment, element_id="customer-segment"),
        _run_day(current.run),
        format_html('<div class="help">{}</div>', description) if description else "",
    )


def segment_history_table(customer, *, limit: int) -> str:
    """Every segment the customer was in, newest first, with when they joined and left."""
    history = selectors.customer_segment_history(customer_id=customer.pk, limit=limit)
    if not history:
        return "None yet."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (_segment_link(m.segment), _run_day(m.run), "now" if m.ended_run_id is None else _run_day(m.ended_run))
            for m in history
        ),
    )
    return format_html(
        '<table class="segcampaign-history"><thead><tr><th>segment</th><th>from</th><th>until</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        rows,
    )

