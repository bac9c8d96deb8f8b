"""Segmentation runs: load -> features -> clustering -> persist, orchestration only.

The numbers come from the pure modules (features.py, clustering/); the order stats, segment
rows and membership are written by the neighbouring service modules. This module moves data
between them, reports progress through the job lifecycle (segcampaign.jobs) and records what
happened on the run row. Entry points (the `segment` command, the Celery tasks, the admin
button) call `segmentation_run_create` and `segmentation_run_execute`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from segcampaign import jobs
from segments import clustering, features, frames, selectors
from segments.models import Algorithm, Customer, Segment, SegmentationRun

from .errors import USER_ERRORS, RunInProgress, SegmentationError
from .membership import current_segment_sizes, membership_write
from .segment_store import cluster_segments_save, jsonable, rfm_segments_save, segment_sizes_save
from .stats import stats_refresh_for_run, stats_watermark

logger = logging.getLogger(__name__)

# Defaults for a run; any of them can be overridden per run through `params`. The K range that
# `--k auto` tries comes from the settings (SEGMENT_K_MIN, SEGMENT_K_MAX).
DEFAULT_PARAMS = {
    "seed": 42,
    "k_min": settings.SEGMENT_K_MIN,
    "k_max": settings.SEGMENT_K_MAX,
    "scaler": "standard",
    "k_sample": 50_000,
    "silhouette_sample": 5_000,
    "fit_sample": 50_000,
    "plot_sample": 3_000,
}
# Runs build features from orders and attributes only: no engagement (opens, clicks) is fed back
# from campaigns yet. When it is, pass it to build_features and set this, and the admin offers
# the engagement features too.
ENGAGEMENT_SUPPLIED = False
# The most segments a run may be asked for: more than a marketer can write campaigns for, and
# each one costs a fit of the whole shop. The model stores K in a small integer.
K_MAX = 50
# numpy's seeds are unsigned 32-bit integers.
SEED_RANGE = (0, 2**32 - 1)
# Reference dates pandas can hold with room for day arithmetic (its timestamps end in 2262).
AS_OF_RANGE = (dt.date(1900, 1, 1), dt.date(2200, 12, 31))
# The most segments a run may try, as settings.py allows for SEGMENT_K_MAX: each K tried costs time.
K_LIMIT = 20
# Run options that are not numbers of the model (they change what the run does, not how it fits).
RUN_OPTIONS = {"rebuild_stats"}
# The stages of a run, by key (stored in run.stage and as keys of run.timings) with the words
# people read; rewording a label never renames a stored metric.
STAGES = {
    "aggregate": "Aggregating orders",
    "load": "Loading customers",
    "features": "Computing features",
    "choose_k": "Choosing the number of segments",
    "fit": "Fitting the model",
    "rfm": "Assigning RFM segments",
    "evaluate": "Evaluating and profiling",
    "save": "Saving segments and membership",
    "find_changed": "Finding changed customers",
    "reaggregate": "Re-aggregating changed customers",
    "place": "Placing changed customers",
}
# What a run writes about itself, beside its lifecycle fields.
RESULT_FIELDS = (
    "algorithm", "features", "as_of", "base_run", "k", "k_candidates", "k_reason", "metrics", "warnings",
    "profiles", "model_state", "plot_data", "transitions", "moved", "n_customers", "stats_refreshed", "stats_watermark",
)


def segmentation_run_create(
    *,
    algorithm: str = Algorithm.KMEANS,
    k: int | None = None,
    feature_names: Sequence[str] = (),
    as_of: dt.date | None = None,
    incremental: bool = False,
    triggered_by: str = "",
    params: dict | None = None,
) -> SegmentationRun:
    """A queued run, its request checked: a bad request is refused here, before any row exists."""
    if algorithm not in Algorithm.values:
        raise SegmentationError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(Algorithm.values)}")
    if k is not None and not 2 <= k <= K_MAX:
        raise SegmentationError(
            f"--k must be 'auto' or a whole number of segments, at most {K_MAX} and at least 2, got {k}"
        )
    for name in feature_names:
        try:
            features.check_feature_name(name)
        except features.FeatureError as exc:
            raise SegmentationError(str(exc)) from None
    if as_of is not None and not AS_OF_RANGE[0] <= as_of <= AS_OF_RANGE[1]:
        raise SegmentationError(f"--as-of must be a date from {AS_OF_RANGE[0]} to {AS_OF_RANGE[1]}, got {as_of}")
    unknown = set(params or {}) - set(DEFAULT_PARAMS) - RUN_OPTIONS
    if unknown:
        raise SegmentationError(f"unknown run parameter(s): {', '.join(sorted(unknown))}")
    seed = (params or {}).get("seed")
    if seed is not None and not (isinstance(seed, int) and SEED_RANGE[0] <= seed <= SEED_RANGE[1]):
        raise SegmentationError(f"--seed must be a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}, got {seed}")
    params = {**DEFAULT_PARAMS, **(params or {})}
    k_min, k_max = params["k_min"], params["k_max"]
    if not (isinstance(k_min, int) and isinstance(k_max, int) and 2 <= k_min <= k_max <= K_LIMIT):
        raise SegmentationError(
            f"the numbers of segments to try must run from at least 2 to at most {K_LIMIT}, the least first: "
            f"got --k-min {k_min} and --k-max {k_max}"
        )
    if incremental and not clustering.ALGORITHMS[algorithm].has_centroids:
        raise SegmentationError(
            f"an incremental run places changed customers by nearest centroid, which {algorithm} does not have"
        )
    return SegmentationRun.objects.create(
        algorithm=algorithm,
        k_requested=k,
        features=list(feature_names),
        as_of=as_of,
        incremental=incremental,
        triggered_by=triggered_by,
        params=params,
    )


def segmentation_run_execute(*, run_id: int, listener: Callable[[str, int], None] | None = None) -> SegmentationRun:
    """Run one queued segmentation to the end. Never raises for bad input: the run says why.

    Raises RunInProgress when another run holds the lock (the caller decides to retry), and
    re-raises an unexpected error after recording it on the run. `listener` hears each stage.
    """
    run = _claim(run_id)
    error, crash = "", None
    with jobs.job_running(run, listener=listener) as progress:
        try:
            if run.incremental:
                _execute_incremental(run, progress)
            else:
                _execute_full(run, progress)
        except USER_ERRORS as exc:
            error = str(exc)
        except Exception as exc:
            logger.exception("segmentation run %s failed", run.pk)
            error, crash = f"internal error: {exc.__class__.__name__}: {exc}", exc
    results = {name: getattr(run, name) for name in RESULT_FIELDS}
    if error:
        jobs.job_fail(run, error=error, timings=progress.close(), **results)
    else:
        jobs.job_finish(run, timings=progress.close(), stage="", **results)
    if crash is not None:
        raise crash
    return run


def segmentation_run_not_started(*, run_id: int, reason: str) -> None:
    """Fail a run that will not start (another run holds the lock), so no queued run is left behind."""
    run = SegmentationRun.objects.get(pk=run_id)
    if run.status == SegmentationRun.Status.QUEUED:
        jobs.job_fail(run, error=f"not started: {reason}")


def _claim(run_id: int) -> SegmentationRun:
    # A run whose worker died would hold the one-running lock forever: it is failed first,
    # found by its heartbeat (a long run that still beats is left alone).
    jobs.jobs_fail_stale(SegmentationRun)
    try:
        # The partial unique index on status='running' makes this the lock: a second run
        # cannot be marked running while one is, whichever worker or machine tries.
        with transaction.atomic():
            run = jobs.job_claim(SegmentationRun, pk=run_id)
    except IntegrityError:
        other = SegmentationRun.objects.filter(status=SegmentationRun.Status.RUNNING).first()
        raise RunInProgress(
            f"run {other.pk if other else '?'} is still running; two segmentations never overlap"
        ) from None
    if run is None:
        run = SegmentationRun.objects.get(pk=run_id)
        raise SegmentationError(f"run {run_id} is {run.get_status_display().lower()}, not queued")
    return run


def _reference(run: SegmentationRun) -> tuple[dt.date, dt.datetime | None]:
    """The run's as-of date, and the cut-off for orders when it lies in the past."""
    latest = selectors.latest_order_at()
    if latest is None:
        if not Customer.objects.exists():
            raise SegmentationError("the shop is empty: import customers and orders first")
        return run.as_of or timezone.now().date(), None
    if run.as_of is None:
        _refuse_implausible_latest(latest)
    as_of = run.as_of or features.day_after(latest)
    return as_of, features.history_cutoff(as_of, latest)


def _refuse_implausible_latest(latest: dt.datetime) -> None:
    """An order dated after the last plausible day (9999-12-31 for "no date", a typo for
    3024) would make everyone's recency centuries long: refuse, and say which order."""
    _first, last = selectors.plausible_order_dates()
    if last == dt.date.max or latest < timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time())):
        return
    order = selectors.latest_order()
    raise SegmentationError(
        f"order {order.external_id} of customer {order.customer.external_id} is dated {latest:%Y-%m-%d %H:%M} UTC, "
        f"after {last} (IMPORT_LATEST_DATE), so every customer's recency would count from then: correct or delete "
        "that order, or segment as of a date (--as-of)"
    )


def _feature_names(run: SegmentationRun) -> tuple[list[str], list[str]]:
    """The features to cluster on, and which of them are customer attributes."""
    names = list(run.features) or list(features.DEFAULT_FEATURES)
    if run.algorithm == Algorithm.RFM:
        names = list(features.DEFAULT_FEATURES)
    return names, _attributes_for(names)


def _attributes_for(names: Sequence[str]) -> list[str]:
    # A name that is not computed from orders must be an attribute: the features module checks
    # it exists on some customer. Computed names that are also attributes are read too, so an
    # imported summary (the "simple" shape) can stand in for orders.
    return [name for name in names if name not in features.COMPUTED_COLUMNS or name in features.OVERRIDABLE]


# --- Full run ---------------------------------------------------------------------------------


def _execute_full(run: SegmentationRun, progress: jobs.Progress) -> None:
    progress.stage("aggregate", percent=2)
    as_of, before = _reference(run)
    run.as_of = as_of
    stats = stats_refresh_for_run(run) if before is None else None

    progress.stage("load", percent=15)
    names, attributes = _feature_names(run)
    if stats is None:
        stats = frames.order_stats_frame(before=before)
    customers = frames.customers_frame(attributes=attributes)
    if customers.empty:
        raise SegmentationError("the shop has no customers: import customers first")

    progress.stage("features", percent=25)
    frame = features.build_features(stats, as_of=as_of, customers=customers, attributes=attributes)
    uses_orders = any(name in features.DERIVED_FEATURES for name in names if name not in attributes)
    if uses_orders and not frame["has_orders"].any():
        raise SegmentationError(
            "no customer has orders, so recency, frequency and monetary cannot be computed: import orders, "
            "or cluster on customer attributes, e.g. --features products_purchased complains money_spent"
        )
    run.n_customers = len(frame)
    names = _usable_features(run, frame, names)
    run.features = names

    if run.algorithm == Algorithm.RFM:
        _fit_rfm(run, progress, frame, names)
    else:
        _fit_clusters(run, progress, frame, names)


def _usable_features(run: SegmentationRun, frame: pd.DataFrame, names: list[str]) -> list[str]:
    """The features to cluster on, constant ones left out; what is left out or mostly missing is flagged."""
    kept, constant = features.varying_features(frame, names)
    missing = {name: float(frame[name].isna().mean()) for name in kept if name in frame.columns}
    run.warnings = [*run.warnings, *clustering.constant_flags(constant), *clustering.missing_flags(missing)]
    return kept


def _fit_clusters(run: SegmentationRun, progress: jobs.Progress, frame: pd.DataFrame, names: list[str]) -> None:
    params = run.params
    prepared = clustering.preprocess(features.select_features(frame, names), scaler=params["scaler"])
    X = prepared.X
    k = run.k_requested
    if clustering.ALGORITHMS[run.algorithm].needs_k:
        if len(X) < max(k or params["k_min"], 2) + 1:
            raise clustering.ClusteringError(
                f"{len(X)} customers are too few for {k or params['k_min']} segments: import more customers"
            )
        if k is None:
            progress.stage("choose_k", percent=35)
            choice = clustering.choose_k(
                X, k_min=params["k_min"], k_max=params["k_max"], seed=params["seed"],
                sample_size=params["k_sample"], silhouette_sample=params["silhouette_sample"],
            )
            k = choice.k
            run.k_candidates, run.k_reason = choice.candidates, choice.reason
            run.warnings = [*run.warnings, *choice.flags]
        else:
            run.k_reason = f"K={k} was asked for"

    progress.stage("fit", percent=55)
    result = clustering.fit(X, algorithm=run.algorithm, k=k, seed=params["seed"], sample_size=params["fit_sample"])
    run.k = result.n_clusters

    progress.stage("evaluate", percent=70)
    # Metrics, profiles and names see HDBSCAN's noise as noise (label -1: left out of the
    # metrics, profiled last as "Outliers"); it becomes a segment of its own after that.
    run.metrics = clustering.evaluate(X, result.labels, seed=params["seed"], sample_size=params["silhouette_sample"])
    profiles = clustering.profile(
        frame[_profile_columns(frame, names)], result.labels, currency=settings.CURRENCY_SYMBOL
    )
    auto_names = clustering.name_segments(profiles, population=frame)
    labels, profiles, auto_names = _noise_as_last_label(result, profiles, auto_names)
    matches = _match_previous(run, result.centroids, prepared.columns)

    progress.stage("save", percent=80)
    with transaction.atomic():
        segments = cluster_segments_save(
            run=run, profiles=profiles, auto_names=auto_names, centroids=result.centroids, matches=matches
        )
        _membership_save(run, frame, labels, segments, profiles)
        run.warnings = [*run.warnings, *clustering.size_flags(run.profiles)]
        run.model_state = {
            "preprocess": prepared.state,
            "columns": prepared.columns,
            "features": names,
            "centroids": {segments[label].key: result.centroids[label].round(6).tolist() for label in segments},
            "cluster_params": result.params,
            "as_of": run.as_of.isoformat(),
            "no_orders_recency": _no_orders_recency(frame),
        }
        run.plot_data = _plot_data(run, X, labels, frame, segments)
        run.save(update_fields=RESULT_FIELDS)


def _no_orders_recency(frame: pd.DataFrame) -> int | None:
    # The features module's rule for customers who never bought: longer ago than any buyer.
    buyers = frame.loc[frame["has_orders"], "recency_days"]
    return int(buyers.max()) + 1 if len(buyers) else None


def _noise_as_last_label(result: clustering.ClusterResult, profiles: list[dict], names: dict[int, str]):
    """Labels as 0..n-1 rows of the centroid matrix: HDBSCAN's noise (-1) is the last row, so
    its customers form a segment ("Outliers") like any other; profiles and names follow."""
    labels = np.asarray(result.labels, dtype=np.int64)
    if not result.noise:
        return labels, profiles, names
    last = len(result.centroids) - 1
    for p in profiles:
        if p["label"] < 0:
            p["label"] = last
    names = {last if label < 0 else label: name for label, name in names.items()}
    return np.where(labels < 0, last, labels), profiles, names


def _profile_columns(frame: pd.DataFrame, names: list[str]) -> list[str]:
    base = [c for c in ("recency_days", "frequency", "monetary") if frame["has_orders"].any()]
    extra = ["avg_order_value", "tenure_days", "return_rate"] if base else []
    return list(dict.fromkeys([*base, *names, *extra]))


def _match_previous(run: SegmentationRun, centroids: np.ndarray, columns: list[str]) -> dict[int, str | None]:
    """Match clusters to the segments of the last run that clustered the same feature space.

    Runs in between with other features or the rule-based RFM grid do not break identity: a
    segment they retired comes back, with its key, name and rules, when its cluster does.
    """
    for previous_run in selectors.runs_with_centroids(exclude=run.pk)[:20]:
        if previous_run.model_state.get("columns") == columns:
            previous = {key: np.asarray(c) for key, c in previous_run.model_state["centroids"].items()}
            return clustering.match_segments(previous, centroids)
    return {label: None for label in range(len(centroids))}


def _fit_rfm(run: SegmentationRun, progress: jobs.Progress, frame: pd.DataFrame, measured: list[str]) -> None:
    """Classic rule-based RFM segments: identity is the rule's name, no model to match.

    measured: the RFM features that differ between customers, on which the segments are evaluated.
    """
    progress.stage("rfm", percent=55)
    names = clustering.rfm_segments(
        frame["r_score"].to_numpy(), frame["f_score"].to_numpy(), frame["m_score"].to_numpy()
    )
    present = [name for name in clustering.RFM_SEGMENTS if (names == name).any()]
    labels = pd.Categorical(names, categories=present).codes.astype(np.int64)
    run.k = len(present)
    run.k_reason = "the classic RFM grid assigns each customer to one of its named segments"

    progress.stage("evaluate", percent=70)
    prepared = clustering.preprocess(features.select_features(frame, measured))
    run.metrics = clustering.evaluate(prepared.X, labels, seed=run.params["seed"])
    profiles = clustering.profile(frame[_profile_columns(frame, measured)], labels, currency=settings.CURRENCY_SYMBOL)

    progress.stage("save", percent=80)
    with transaction.atomic():
        segments = rfm_segments_save(run=run, profiles=profiles, names=present)
        _membership_save(run, frame, labels, segments, profiles)
        run.warnings = [*run.warnings, *clustering.size_flags(run.profiles, rule=True)]
        run.model_state = {"features": measured, "columns": prepared.columns}
        run.plot_data = _plot_data(run, prepared.X, labels, frame, segments)
        run.save(update_fields=RESULT_FIELDS)


def _membership_save(run, frame, labels, segments: dict[int, Segment], profiles) -> None:
    segment_ids = np.array([segments[label].pk for label in range(max(segments) + 1)], dtype=np.int64)
    assignment = pd.Series(segment_ids[labels], index=frame.index, name="segment_id")
    run.moved, run.transitions = membership_write(run=run, assignment=assignment, partial=False)
    for p in profiles:
        p.update(key=segments[p["label"]].key, name=segments[p["label"]].name, segment_id=segments[p["label"]].pk)
    run.profiles = jsonable(profiles)


# --- Incremental run --------------------------------------------------------------------------


def _execute_incremental(run: SegmentationRun, progress: jobs.Progress) -> None:
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
    as_of, before = _reference(run)
    if before is not None:
        raise SegmentationError("an incremental run cannot look back in time: use a full run with --as-of")
    run.as_of = as_of
    names = state["features"]
    attributes = _attributes_for(names)
    stats = frames.order_stats_frame(customer_ids=changed)
    customers = frames.customers_frame(attributes=attributes, customer_ids=changed)

    progress.stage("place", percent=40)
    run.n_customers = len(customers)
    keys = list(state["centroids"])
    segment_ids = dict(Segment.objects.filter(key__in=keys).values_list("key", "pk"))
    if len(customers):
        # Customers without orders get the recency the base run gave them, aged to today.
        never = state.get("no_orders_recency")
        if never is not None:
            never += (as_of - dt.date.fromisoformat(state["as_of"])).days
        frame = features.build_features(
            stats, as_of=as_of, customers=customers, attributes=attributes, no_orders_recency=never
        )
        X = clustering.transform(frame[names], state["preprocess"])
        labels = clustering.assign(X, np.asarray([state["centroids"][key] for key in keys]))
        assignment = pd.Series(
            np.asarray([segment_ids[key] for key in keys], dtype=np.int64)[labels], index=frame.index
        )
    else:
        assignment = pd.Series([], dtype=np.int64)

    progress.stage("save", percent=80)
    with transaction.atomic():
        run.moved, run.transitions = membership_write(run=run, assignment=assignment, partial=True)
        sizes = current_segment_sizes()
        segment_sizes_save(sizes, segment_ids=segment_ids.values())
        run.k_reason = f"kept the {len(keys)} segments of run {base.pk} (incremental)"
        run.model_state = state
        run.profiles = [{**p, "size": sizes.get(p.get("segment_id"), 0)} for p in base.profiles]
        run.warnings = clustering.resized_flags(base.warnings, run.profiles)
        run.metrics = {"note": f"incremental run: quality metrics are those of run {base.pk}"}
        run.plot_data = base.plot_data
        run.save(update_fields=RESULT_FIELDS)


# --- Plots ------------------------------------------------------------------------------------


def _plot_data(run, X, labels, frame, segments: dict[int, Segment]) -> dict:
    projection = clustering.projection(X, labels, sample_size=run.params["plot_sample"], seed=run.params["seed"])
    projection["segments"] = [segments[int(label)].key for label in projection.pop("labels")]
    data = {"projection": projection, "names": {s.key: s.name for s in segments.values()}}
    if frame["has_orders"].any():
        with_orders = frame[frame["has_orders"]]
        grid = with_orders.groupby(["r_score", "f_score"], observed=True)["monetary"].agg(["size", "mean"])
        data["rfm_heatmap"] = {
            "r": [int(r) for r, _ in grid.index],
            "f": [int(f) for _, f in grid.index],
            "customers": grid["size"].astype(int).tolist(),
            "mean_monetary": grid["mean"].round(2).tolist(),
        }
    return data
