"""The top of a run's page about going live: a draft's banner, why it waits, who would move, "Make live".

A draft changed nothing: its page says so first, then what making it live would do (customers
who would change segment, segments that would be new or retired, renamed segments whose
customers changed), and offers the button to those who may press it. A draft that another run
overtook says in plain words why it can no longer go live. A live run says since when.
"""

from __future__ import annotations

from django.urls import reverse

from segments import clustering, plots, services
from segments.models import Segment, SegmentationRun

from .display import number, percent

# The largest moves listed in the banner; the run page's own table has them all.
MOVES_SHOWN = 8


def draft_context(run: SegmentationRun, *, may_make_live: bool) -> dict:
    """{"go_live": ...} for templates/admin/segments/includes/run_draft.html (empty while unfinished)."""
    if run.status != SegmentationRun.Status.SUCCEEDED:
        return {}
    if not run.is_draft:
        return {"go_live": {"live": True, "applied_at": run.applied_at, "applied_by": run.applied_by}}
    keys = [p.get("key") for p in run.profiles if p.get("key")]
    live = {s.key: s for s in Segment.objects.filter(key__in=keys)}
    names = {p["key"]: live[p["key"]].name if p["key"] in live else p.get("name") for p in run.profiles}
    names.update(Segment.objects.filter(key__in=list(run.transitions)).values_list("key", "name"))
    retired = [] if run.incremental else list(
        Segment.objects.filter(is_active=True).exclude(key__in=keys).order_by("name").values_list("name", flat=True)
    )
    moves = [
        {**row, "customers": number(row["customers"])}
        for row in plots.transition_rows(run.transitions, names)
        if not row["stayed"]
    ]
    out_of_date = services.draft_out_of_date(run)
    return {
        "go_live": {
            "live": False,
            "reason": run.draft_reason,
            "out_of_date": out_of_date,
            "may_make_live": may_make_live and not out_of_date,
            "make_live_url": reverse("admin:segments_segmentationrun_make_live", args=[run.pk]),
            "unfit": not clustering.fit_to_apply(run.warnings),
            "moved": number(run.moved),
            "moved_share": percent(run.moved / run.n_customers) if run.n_customers else None,
            "moves": moves[:MOVES_SHOWN],
            "more_moves": max(0, len(moves) - MOVES_SHOWN),
            "new_segments": [p.get("name") for p in run.profiles if p.get("key") not in live],
            "retired_segments": retired,
            "revived_segments": [live[k].name for k in keys if k in live and not live[k].is_active],
            "changed": [w["message"] for w in run.warnings if w.get("code") == services.PROFILE_CHANGED],
        }
    }
