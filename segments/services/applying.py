"""Try before apply: a computed run either goes live or waits as a draft, and a draft goes live later.

Going live is what a run used to do as it ended: segments are created, renamed (unless a
marketer named them) and retired, and membership is written for the customers who move. A
draft does none of that. It keeps its profiles, the moves it would make and one label per
customer (draft_labels.py), so "Make live" writes exactly what was looked at, without fitting
again.

A run goes live as it ends unless
- it was started as a draft (go_live "never": the admin's default),
- the sanity checks fail (clustering.fit_to_apply) and nobody forced it (go_live "if_fit"), or
- another run went live after it started: it compared itself with segments no longer in use.

The last is also why a draft may go live only while the run it was compared with is still the
live one: the moves it shows and the segments it matched would be out of date. Going live takes
one lock (a PostgreSQL advisory lock; SQLite serialises write transactions anyway), so two
runs never go live over each other, and once one has, every other draft is out of date: their
labels are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from segments import clustering, selectors
from segments.models import Segment, SegmentationRun

from .draft_labels import draft_labels, draft_labels_drop, draft_labels_kept, draft_labels_save
from .errors import SegmentationError
from .membership import current_segment_sizes, membership_changes, membership_write
from .segment_store import (
    PROFILE_CHANGED,
    changed_flags,
    jsonable,
    segment_sizes_save,
    segments_apply,
    segments_changed,
)

# What a run writes about itself, beside its lifecycle fields.
RESULT_FIELDS = (
    "algorithm", "features", "as_of", "base_run", "k", "k_candidates", "k_reason", "metrics", "warnings",
    "profiles", "model_state", "plot_data", "transitions", "moved", "n_customers", "stats_refreshed", "stats_watermark",
    "compared_with", "is_draft", "draft_reason", "applied_at", "applied_by",
)
LIVE_FIELDS = ("warnings", "profiles", "plot_data", "transitions", "moved", "is_draft", "draft_reason", "applied_at",
               "applied_by")
# The advisory lock of going live: any constant no other code uses ("SegApply" in ASCII).
APPLY_LOCK = 0x5365674170706C79

TRIAL = (
    "Started as a trial: nothing changes for customers, segments or campaigns until someone presses "
    "\u201cMake live\u201d."
)


def run_result_save(run: SegmentationRun, labels: pd.Series) -> None:
    """The end of a computed run: live, or a draft with the reason, and its record saved.

    labels: customer id -> the label of its profile in run.profiles (each profile carries the
    key, name and segment id it has or would have: segment_store.segments_plan).
    """
    if not run.incremental:
        changed = segments_changed(run.profiles, run_id=run.pk, currency=settings.CURRENCY_SYMBOL)
        run.warnings = _without_changed(run.warnings) + changed_flags(changed)
    with transaction.atomic():
        _lock()
        stale = _stale(run)
        reason = stale or _held(run)
        if reason:
            _keep_as_draft(run, labels, reason, keep_labels=not stale)
        else:
            _go_live(run, labels, by=run.triggered_by)
        run.save(update_fields=RESULT_FIELDS)


def segmentation_run_make_live(*, run_id: int, by: str) -> tuple[SegmentationRun, bool]:
    """Make a draft live ("Make live" in admin); returns the run and whether this call did it.

    Idempotent: a run that is live already is returned as it is. Refused, with the reason in
    words, for a run that is not a finished draft, and for a draft that is out of date.
    """
    with transaction.atomic():
        _lock()
        run = SegmentationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise SegmentationError(f"there is no segmentation run {run_id}")
        if run.applied:
            return run, False
        if run.status != SegmentationRun.Status.SUCCEEDED:
            raise SegmentationError(
                f"run {run.pk} is {run.get_status_display().lower()}: only a finished draft can be made live"
            )
        stale = _stale(run)
        if stale:
            raise SegmentationError(stale)
        if not draft_labels_kept(run):
            raise SegmentationError(
                f"run {run.pk} did not keep its customers' segments, so it cannot be made live: start a new run"
            )
        _go_live(run, draft_labels(run), by=by)
        run.save(update_fields=LIVE_FIELDS)
    return run, True


def draft_out_of_date(run: SegmentationRun) -> str:
    """Why a draft can no longer go live ("" while it can): another run went live after it started."""
    return _stale(run) if run.is_draft else ""


def _lock() -> None:
    with connection.cursor() as cursor:
        if cursor.db.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK])


def _stale(run: SegmentationRun) -> str:
    """Why the run may not go live because another went live after it started ("" if it may)."""
    live = selectors.latest_successful_run(exclude=run.pk)
    if (live.pk if live else None) == run.compared_with_id:
        return ""
    return (
        f"Run {live.pk} went live after this run started, so the segments it matched and the moves it shows "
        "compare with segments no longer in use. It cannot be made live: start a new run."
    )


def _held(run: SegmentationRun) -> str:
    """Why a fresh run waits as a draft ("" when it goes live)."""
    if run.go_live == SegmentationRun.GoLive.NEVER:
        return TRIAL
    blocking = clustering.blocking_flags(run.warnings)
    if run.go_live == SegmentationRun.GoLive.IF_FIT and blocking:
        return (
            "Held back by the sanity checks: " + " ".join(f["message"] for f in blocking) + " The segments in use "
            "stay as they were. Make it live anyway with \u201cMake live\u201d in admin, or run `segment --force`."
        )
    return ""


def _keep_as_draft(run: SegmentationRun, labels: pd.Series, reason: str, *, keep_labels: bool) -> None:
    """Record who would move, and keep the labels for Make live (not for a draft that is already stale)."""
    # A segment that does not exist yet stands in with a negative id: everyone put there moves.
    ids = {p["label"]: p.get("segment_id") or -1 - p["label"] for p in run.profiles}
    new_keys = {ids[p["label"]]: p["key"] for p in run.profiles if not p.get("segment_id")}
    assignment = labels.map(ids).astype(np.int64)
    changes = membership_changes(assignment=assignment, partial=run.incremental, new_keys=new_keys)
    run.moved, run.transitions = changes.moved, changes.transitions
    run.is_draft, run.draft_reason = True, reason
    if keep_labels:
        draft_labels_save(run, labels)


def _go_live(run: SegmentationRun, labels: pd.Series, *, by: str) -> None:
    label_keys = {p["label"]: p["key"] for p in run.profiles}
    if run.incremental:
        segments = Segment.objects.in_bulk(list(label_keys.values()), field_name="key")
    else:
        changed = segments_changed(run.profiles, run_id=run.pk, currency=settings.CURRENCY_SYMBOL)
        segments = segments_apply(run, changed=changed)
        run.warnings = _without_changed(run.warnings) + changed_flags(changed)
    assignment = labels.map({label: segments[key].pk for label, key in label_keys.items()}).astype(np.int64)
    run.moved, run.transitions = membership_write(run=run, assignment=assignment, partial=run.incremental)
    if run.incremental:
        sizes = current_segment_sizes()
        segment_sizes_save(sizes, segment_ids=[s.pk for s in segments.values()])
        run.profiles = [{**p, "size": sizes.get(segments[p["key"]].pk, 0)} for p in run.profiles]
    else:
        run.profiles = jsonable(
            [{**p, "name": segments[p["key"]].name, "segment_id": segments[p["key"]].pk} for p in run.profiles]
        )
        run.plot_data = {**run.plot_data, "names": {key: s.name for key, s in segments.items()}}
    run.is_draft, run.draft_reason = False, ""
    run.applied_at, run.applied_by = timezone.now(), by
    draft_labels_drop()


def _without_changed(warnings: list[dict]) -> list[dict]:
    return [w for w in warnings if w.get("code") != PROFILE_CHANGED]
