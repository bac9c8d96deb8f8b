"""An incremental run: only the customers whose data changed since the last run, placed with the
live model. What it found goes to applying.py, which makes it live or keeps it as a draft."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from segcampaign import jobs
from segments import clustering, features, frames, selectors
from segments.models import Segment, SegmentationRun

from .applying import run_result_save
from .errors import SegmentationError
from .membership import membership_changes
from .reference import attributes_for, run_reference
from .stats import stats_refresh_for_run, stats_watermark


def run_incremental(run: SegmentationRun, progress: jobs.Progress) -> None:
    """Re-place only the customers that changed since the last run, with that run's model.

    Cheap by design (a small fraction of a full run): no K choice, no refit, no re-aggregation
    of unchanged customers. Everyone else keeps their segment; a full run (nightly, say)
    refits the model and refreshes recency for all.
    """
    progress.stage("find_changed", percent=2)
    base = selectors.latest_run_with_centroids(exclude=run.pk)
    if base is None:
        raise SegmentationError("an incremental run needs an earlier full k-means-like run: run a full segmentation")
    state = base.model_state
    if any(name in {"r_score", "f_score", "m_score"} for name in state["features"]):
        raise SegmentationError("RFM scores are relative to the whole shop: re-segment with a full run")
    run.base_run, run.algorithm, run.features, run.k = base, base.algorithm, state["features"], base.k
    watermark = stats_watermark(run)
    if watermark is None:
        raise SegmentationError("the order stats were never built: run a full segmentation first")

    progress.stage("reaggregate", percent=10)
    stats_refresh_for_run(run)
    # Read after the refresh took its watermark: every customer stamped up to it is in here
    # (one stamped later may be too, and is placed again by the next run).
    changed = frames.changed_customer_ids(since=watermark)
    as_of, before = run_reference(run)
    if before is not None:
        raise SegmentationError("an incremental run cannot look back in time: use a full run with --as-of")
    run.as_of = as_of
    names = state["features"]
    attributes = attributes_for(names)
    stats = frames.order_stats_frame(customer_ids=changed)
    customers = frames.customers_frame(attributes=attributes, customer_ids=changed)

    progress.stage("place", percent=40)
    run.n_customers = len(customers)
    keys = list(state["centroids"])
    # The label of each segment is the one in the base run's profiles, which this run keeps.
    label_of = {p["key"]: p["label"] for p in base.profiles}
    if len(customers):
        # Customers without orders get the recency the base run gave them, aged to today.
        never = state.get("no_orders_recency")
        if never is not None:
            never += (as_of - dt.date.fromisoformat(state["as_of"])).days
        frame = features.build_features(
            stats, as_of=as_of, customers=customers, attributes=attributes, no_orders_recency=never
        )
        X = clustering.transform(frame[names], state["preprocess"])
        placed = clustering.assign(X, np.asarray([state["centroids"][key] for key in keys]))
        labels = pd.Series(np.asarray([label_of[key] for key in keys], dtype=np.int64)[placed], index=frame.index)
    else:
        labels = pd.Series([], dtype=np.int64)

    progress.stage("save", percent=80)
    segment_ids = dict(Segment.objects.filter(key__in=keys).values_list("key", "pk"))
    profiles = [{**p, "segment_id": segment_ids.get(p["key"])} for p in base.profiles]
    # The sizes the segments will have (the sanity checks judge them): everyone else stays.
    ids = {p["label"]: p["segment_id"] for p in profiles}
    sizes = membership_changes(assignment=labels.map(ids).astype(np.int64), partial=True).sizes
    run.k_reason = f"kept the {len(keys)} segments of run {base.pk} (incremental)"
    run.model_state = state
    run.profiles = [{**p, "size": sizes.get(p["segment_id"], 0)} for p in profiles]
    run.warnings = clustering.resized_flags(base.warnings, run.profiles)
    run.metrics = {"note": f"incremental run: quality metrics are those of run {base.pk}"}
    run.plot_data = base.plot_data
    run_result_save(run, labels)
