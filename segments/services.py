"""Segmentation runs: load -> features -> clustering -> persist.

The numbers are computed by the pure modules (features.py, clustering.py); this module moves
data between them and the database in bulk, records what happened on the run row, and keeps
segment identity and membership history consistent. Entry points (the `segment` command, the
Celery task, the admin button) call `segmentation_run_execute` or `segmentation_run_queue`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from . import clustering, features, selectors
from .bulk import copy_rows
from .models import Algorithm, Customer, CustomerStats, Membership, Order, Segment, SegmentationRun

logger = logging.getLogger(__name__)

# Defaults for a run; any of them can be overridden per run through `params`.
DEFAULT_PARAMS = {
    "seed": 42,
    "k_min": 2,
    "k_max": 12,
    "scaler": "standard",
    "k_sample": 50_000,
    "silhouette_sample": 5_000,
    "fit_sample": 50_000,
    "plot_sample": 3_000,
}
# Algorithms that describe a segment by a centroid, so new customers can be placed by an
# incremental run without refitting.
CENTROID_ALGORITHMS = {name for name, spec in clustering.ALGORITHMS.items() if spec.has_centroids}
# A run still "running" after this long is taken to have died with its worker.
STALE_RUN_AFTER = dt.timedelta(hours=3)
NO_PREVIOUS_SEGMENT = "(new)"


class SegmentationError(Exception):
    """A run cannot go on; the message says why in words a marketer can act on."""


class RunInProgress(SegmentationError):
    pass


USER_ERRORS = (SegmentationError, features.FeatureError, clustering.ClusteringError)


@dataclass
class _Progress:
    run: SegmentationRun
    callback: Callable[[int, str], None] | None = None
    timings: dict = field(default_factory=dict)
    _stage_started: float = field(default_factory=time.perf_counter)

    def stage(self, percent: int, message: str) -> None:
        """Close the stage in flight (its time is recorded) and announce the next one."""
        now = time.perf_counter()
        if self.run.progress_message:
            key = self.run.progress_message
            self.timings[key] = round(self.timings.get(key, 0) + now - self._stage_started, 3)
        self._stage_started = now
        self.run.progress, self.run.progress_message = percent, message
        # An UPDATE outside the run's transaction so the admin's progress bar moves.
        SegmentationRun.objects.filter(pk=self.run.pk).update(progress=percent, progress_message=message)
        if self.callback:
            self.callback(percent, message)


def segmentation_run_create(
    *,
    algorithm: str = Algorithm.KMEANS,
    k: int | None = None,
    features_: Sequence[str] = (),
    as_of: dt.date | None = None,
    incremental: bool = False,
    triggered_by: str = "",
    params: dict | None = None,
) -> SegmentationRun:
    if algorithm not in Algorithm.values:
        raise SegmentationError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(Algorithm.values)}")
    if k is not None and k < 2:
        raise SegmentationError(f"--k must be 'auto' or a whole number of at least 2, got {k}")
    unknown = set(params or {}) - set(DEFAULT_PARAMS) - {"rebuild_stats"}
    if unknown:
        raise SegmentationError(f"unknown run parameter(s): {', '.join(sorted(unknown))}")
    if incremental and algorithm not in CENTROID_ALGORITHMS:
        raise SegmentationError(
            f"an incremental run places changed customers by nearest centroid, which {algorithm} does not have"
        )
    return SegmentationRun.objects.create(
        algorithm=algorithm,
        k_requested=k,
        features=list(features_),
        as_of=as_of,
        incremental=incremental,
        triggered_by=triggered_by,
        params={**DEFAULT_PARAMS, **(params or {})},
    )


def segmentation_run_queue(**kwargs) -> SegmentationRun:
    """Create a run and hand it to a worker once the transaction that created it commits."""
    from .tasks import segmentation_run_task

    run = segmentation_run_create(**kwargs)
    transaction.on_commit(partial(_send, segmentation_run_task, run.pk))
    return run


def _send(task, run_id: int) -> None:
    try:
        task.delay(run_id=run_id)
    except Exception as exc:
        # The broker refused it: say so on the run instead of leaving it queued forever.
        logger.exception("could not queue segmentation run %s", run_id)
        SegmentationRun.objects.filter(pk=run_id, status=SegmentationRun.Status.QUEUED).update(
            status=SegmentationRun.Status.FAILED,
            error=f"could not reach the task queue: {exc}",
            finished_at=timezone.now(),
        )


def segmentation_run_execute(
    *, run_id: int, progress: Callable[[int, str], None] | None = None
) -> SegmentationRun:
    """Run one queued segmentation to the end. Never raises for bad input: the run says why.

    Raises RunInProgress when another run holds the lock (the caller decides to retry).
    """
    run = _claim(run_id)
    tracker = _Progress(run, progress)
    try:
        if run.incremental:
            _execute_incremental(run, tracker)
        else:
            _execute_full(run, tracker)
    except USER_ERRORS as exc:
        _finish(run, tracker, error=str(exc))
    except Exception as exc:
        logger.exception("segmentation run %s failed", run.pk)
        _finish(run, tracker, error=f"internal error: {exc.__class__.__name__}: {exc}")
        raise
    else:
        _finish(run, tracker)
    return run


def _claim(run_id: int) -> SegmentationRun:
    stale_before = timezone.now() - STALE_RUN_AFTER
    SegmentationRun.objects.filter(status=SegmentationRun.Status.RUNNING, started_at__lt=stale_before).update(
        status=SegmentationRun.Status.FAILED,
        error=f"no progress for {STALE_RUN_AFTER}: the worker running it stopped",
        finished_at=timezone.now(),
    )
    try:
        # The partial unique index on status='running' makes this the lock: a second run
        # cannot be marked running while one is, whichever worker or machine tries.
        with transaction.atomic():
            claimed = SegmentationRun.objects.filter(pk=run_id, status=SegmentationRun.Status.QUEUED).update(
                status=SegmentationRun.Status.RUNNING, started_at=timezone.now(), progress=0
            )
    except IntegrityError:
        other = SegmentationRun.objects.filter(status=SegmentationRun.Status.RUNNING).first()
        raise RunInProgress(
            f"run {other.pk if other else '?'} is still running; two segmentations never overlap"
        ) from None
    run = SegmentationRun.objects.get(pk=run_id)
    if not claimed:
        raise SegmentationError(f"run {run_id} is {run.get_status_display().lower()}, not queued")
    return run


def _finish(run: SegmentationRun, tracker: _Progress, *, error: str = "") -> None:
    tracker.stage(100, "done" if not error else "failed")
    run.timings = {**tracker.timings, "total": round(sum(tracker.timings.values()), 3)}
    run.timings.pop("done", None)
    run.timings.pop("failed", None)
    run.status = SegmentationRun.Status.FAILED if error else SegmentationRun.Status.SUCCEEDED
    run.error = error
    run.finished_at = timezone.now()
    run.save()


# --- Stats ----------------------------------------------------------------------------------


def customer_stats_refresh(*, since: dt.datetime | None) -> tuple[int, pd.DataFrame | None]:
    """Re-aggregate orders into CustomerStats for customers changed since `since` (all if None).

    Returns the number of customers re-aggregated and, for a full rebuild, the stats frame
    itself so the caller need not read it back. The database does the grouping over millions
    of orders and only one row per customer travels. A full rebuild reads the aggregate out
    and COPYs it back in: on ten million orders that is as fast as INSERT ... SELECT or
    CREATE TABLE AS (about 16 s here), and the run gets the frame without reading it again.
    """
    table, customers = selectors.STATS_TABLE, selectors.CUSTOMER_TABLE
    columns = "customer_id, first_order_at, last_order_at, frequency, returns, monetary, quantity, refreshed_at"
    now = timezone.now()
    if since is None:
        stats = selectors.order_stats_frame(from_orders=True)
        rows = stats.reset_index()
        rows["refreshed_at"] = now
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
            copy_rows(cursor, table, list(rows.columns), rows)
        return len(rows), stats
    since = selectors.db_datetime(since)
    changed = f"customer_id IN (SELECT id FROM {customers} WHERE updated_at > %s)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {changed}", [since])
        sql, params = selectors.aggregate_sql(customer_filter=changed, filter_params=[since])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT agg.*, %s FROM ({sql}) AS agg",
            [selectors.db_datetime(now), *params],
        )
        return cursor.rowcount, None


def _stats_watermark(run: SegmentationRun) -> dt.datetime | None:
    """Customers changed after this instant need their stats re-aggregated (None: all).

    The start of the last successful run that refreshed the stats: anything an import touched
    while that run was going is re-aggregated once more, never missed.
    """
    if run.params.get("rebuild_stats") or not CustomerStats.objects.exists():
        return None
    previous = (
        SegmentationRun.objects.filter(status=SegmentationRun.Status.SUCCEEDED, params__has_key="stats_refreshed")
        .exclude(pk=run.pk)
        .order_by("-pk")
        .first()
    )
    return previous.started_at if previous else None


def _refresh_stats(run: SegmentationRun) -> pd.DataFrame | None:
    """Bring CustomerStats up to date; returns the whole stats frame when it rebuilt it all."""
    since = _stats_watermark(run)
    refreshed, stats = customer_stats_refresh(since=since)
    run.params["stats_refreshed"] = refreshed if since is not None else "all"
    return stats


def _reference(run: SegmentationRun) -> tuple[dt.date, dt.datetime | None]:
    """The run's as-of date, and the cut-off for orders when it lies in the past."""
    latest = Order.objects.aggregate(latest=Max("ordered_at"))["latest"]
    if latest is None:
        if not Customer.objects.exists():
            raise SegmentationError("the shop is empty: import customers and orders first")
        return run.as_of or timezone.now().date(), None
    as_of = run.as_of or _day_after(latest)
    return as_of, _cutoff(as_of, latest)


def _day_after(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date() + dt.timedelta(days=1)


def _cutoff(as_of: dt.date, latest: dt.datetime | None) -> dt.datetime | None:
    """History mode: for an as-of date before the data ends, later orders did not exist yet."""
    if latest is not None and as_of < _day_after(latest):
        return dt.datetime.combine(as_of, dt.time.min, tzinfo=dt.UTC)
    return None


def _feature_names(run: SegmentationRun) -> tuple[list[str], list[str]]:
    """The features to cluster on, and which of them are customer attributes."""
    names = list(run.features) or list(features.DEFAULT_FEATURES)
    if run.algorithm == Algorithm.RFM:
        names = list(features.DEFAULT_FEATURES)
    return names, _attributes_for(names)


def _attributes_for(names: Sequence[str]) -> list[str]:
    known = set(features.COMPUTED_COLUMNS)
    # A name that is not derived from orders must be an attribute: the features module checks
    # it exists on some customer. Derived names that are also attributes are read too, so an
    # imported summary (the "simple" shape) can stand in for orders.
    return [name for name in names if name not in known or name in {"products_purchased", "monetary"}]


# --- Full run ---------------------------------------------------------------------------------


def _execute_full(run: SegmentationRun, tracker: _Progress) -> None:
    tracker.stage(2, "aggregating orders")
    as_of, before = _reference(run)
    run.as_of = as_of
    stats = _refresh_stats(run) if before is None else None

    tracker.stage(15, "loading customers")
    names, attributes = _feature_names(run)
    if stats is None:
        stats = selectors.order_stats_frame(before=before)
    customers = selectors.customers_frame(attributes=attributes)
    if customers.empty:
        raise SegmentationError("the shop has no customers: import customers first")

    tracker.stage(25, "computing features")
    frame = features.build_features(stats, as_of=as_of, customers=customers, attributes=attributes)
    uses_orders = any(name in features.DERIVED_FEATURES for name in names if name not in attributes)
    if uses_orders and not frame["has_orders"].any():
        raise SegmentationError(
            "no customer has orders, so recency, frequency and monetary cannot be computed: import orders, "
            "or cluster on customer attributes, e.g. --features products_purchased complains money_spent"
        )
    run.n_customers = len(frame)
    run.features = names

    if run.algorithm == Algorithm.RFM:
        _fit_rfm(run, tracker, frame)
    else:
        _fit_clusters(run, tracker, frame, names)


def _fit_clusters(run: SegmentationRun, tracker: _Progress, frame: pd.DataFrame, names: list[str]) -> None:
    params = run.params
    selected = features.select_features(frame, names)
    prepared = clustering.preprocess(selected, scaler=params["scaler"])
    X = prepared.X
    k = run.k_requested
    if run.algorithm != Algorithm.HDBSCAN:
        if len(X) < max(k or params["k_min"], 2) + 1:
            raise clustering.ClusteringError(
                f"{len(X)} customers are too few for {k or params['k_min']} segments: import more customers"
            )
        if k is None:
            tracker.stage(35, "choosing the number of segments")
            choice = clustering.choose_k(
                X,
                k_min=params["k_min"],
                k_max=params["k_max"],
                seed=params["seed"],
                sample_size=params["k_sample"],
                silhouette_sample=params["silhouette_sample"],
            )
            k = choice.k
            run.k_candidates, run.k_reason = choice.candidates, choice.reason
        else:
            run.k_reason = f"K={k} was asked for"

    tracker.stage(55, f"fitting {run.get_algorithm_display()}")
    result = clustering.fit(X, algorithm=run.algorithm, k=k, seed=params["seed"], sample_size=params["fit_sample"])
    labels = _dense_labels(result)
    run.k = result.n_clusters

    tracker.stage(70, "evaluating and profiling")
    run.metrics = clustering.evaluate(X, labels, seed=params["seed"], sample_size=params["silhouette_sample"])
    profiles = clustering.profile(frame[_profile_columns(frame, names)], labels, currency=settings.CURRENCY_SYMBOL)
    auto_names = clustering.name_segments(profiles, population=frame)
    matches = _match_previous(run, result.centroids, prepared.columns)

    tracker.stage(80, "saving segments and membership")
    with transaction.atomic():
        segments = _save_cluster_segments(run, profiles, auto_names, result.centroids, matches)
        _finish_membership(run, frame, labels, segments, profiles)
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
        run.save()


def _no_orders_recency(frame: pd.DataFrame) -> int | None:
    # The features module's rule for customers who never bought: longer ago than any buyer.
    buyers = frame.loc[frame["has_orders"], "recency_days"]
    return int(buyers.max()) + 1 if len(buyers) else None


def _dense_labels(result: clustering.ClusterResult) -> np.ndarray:
    """Labels as 0..n-1 rows of the centroid matrix; HDBSCAN's noise (-1) is the last row."""
    labels = np.asarray(result.labels, dtype=np.int64)
    if result.noise:
        labels = np.where(labels < 0, len(result.centroids) - 1, labels)
    return labels


def _profile_columns(frame: pd.DataFrame, names: list[str]) -> list[str]:
    base = [c for c in ("recency_days", "frequency", "monetary") if frame["has_orders"].any()]
    extra = ["avg_order_value", "tenure_days", "return_rate"] if base else []
    return list(dict.fromkeys([*base, *names, *extra]))


def _match_previous(run: SegmentationRun, centroids: np.ndarray, columns: list[str]) -> dict[int, str | None]:
    """Match clusters to the segments of the last run that clustered the same feature space.

    Runs in between with other features or the rule-based RFM grid do not break identity: a
    segment they retired comes back, with its key, name and rules, when its cluster does.
    """
    for previous_run in (
        SegmentationRun.objects.filter(status=SegmentationRun.Status.SUCCEEDED, model_state__has_key="centroids")
        .exclude(pk=run.pk)
        .order_by("-pk")[:20]
    ):
        if previous_run.model_state.get("columns") == columns:
            previous = {key: np.asarray(c) for key, c in previous_run.model_state["centroids"].items()}
            return clustering.match_segments(previous, centroids)
    return {label: None for label in range(len(centroids))}


def _save_cluster_segments(run, profiles, auto_names, centroids, matches) -> dict[int, Segment]:
    """Create, update and retire segments so matched clusters keep key, name and rules."""
    now = timezone.now()
    by_label = {p["label"]: p for p in profiles}
    matched_keys = {key for key in matches.values() if key}
    kept = {s.key: s for s in Segment.objects.filter(key__in=matched_keys)}
    _retire_except(matched_keys, now, run)
    # Names a marketer gave are kept; every other segment is named from today's profile, so
    # a segment whose customers drifted from "New" to "Loyal" says so.
    taken_names = {s.name for s in kept.values() if s.name_locked}
    segments: dict[int, Segment] = {}
    for label in sorted(by_label):
        key = matches.get(label)
        if key:
            segment = kept[key]
            if not segment.name_locked:
                segment.name = _unique(auto_names[label], taken_names)
        else:
            name = _unique(auto_names[label], taken_names)
            segment = Segment(
                key=_unique_key(slugify(name) or f"segment-{label}"),
                name=name,
                algorithm=run.algorithm,
                first_run=run,
            )
        taken_names.add(segment.name)
        segment.algorithm = run.algorithm
        segment.centroid = centroids[label].round(6).tolist()
        segment.profile = _jsonable(by_label[label])
        segment.size = int(by_label[label]["size"])
        segment.last_run = run
        segment.is_active, segment.retired_at = True, None
        segment.save()
        segments[label] = segment
    return segments


def _retire_except(keys: set[str], now: dt.datetime, run: SegmentationRun) -> None:
    # Retired, never deleted: memberships of past runs and campaign history point at them.
    Segment.objects.filter(is_active=True).exclude(key__in=keys).update(is_active=False, retired_at=now, size=0)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} {n}" in taken:
        n += 1
    return f"{name} {n}"


def _unique_key(base: str) -> str:
    existing = set(Segment.objects.filter(key__startswith=base).values_list("key", flat=True))
    return _unique(base, existing).replace(" ", "-")


def _fit_rfm(run: SegmentationRun, tracker: _Progress, frame: pd.DataFrame) -> None:
    """Classic rule-based RFM segments: identity is the rule's name, no model to match."""
    tracker.stage(55, "assigning RFM segments")
    names = clustering.rfm_segments(
        frame["r_score"].to_numpy(), frame["f_score"].to_numpy(), frame["m_score"].to_numpy()
    )
    present = [name for name in clustering.RFM_SEGMENTS if (names == name).any()]
    labels = pd.Categorical(names, categories=present).codes.astype(np.int64)
    run.k = len(present)
    run.k_reason = "the classic RFM grid assigns each customer to one of its named segments"

    tracker.stage(70, "evaluating and profiling")
    prepared = clustering.preprocess(features.select_features(frame, list(features.DEFAULT_FEATURES)))
    run.metrics = clustering.evaluate(prepared.X, labels, seed=run.params["seed"])
    profiles = clustering.profile(
        frame[_profile_columns(frame, list(features.DEFAULT_FEATURES))], labels, currency=settings.CURRENCY_SYMBOL
    )

    tracker.stage(80, "saving segments and membership")
    with transaction.atomic():
        now = timezone.now()
        keys = {label: f"rfm-{slugify(name)}" for label, name in enumerate(present)}
        _retire_except(set(keys.values()), now, run)
        segments = {}
        for p in profiles:
            label = p["label"]
            segment, _ = Segment.objects.get_or_create(
                key=keys[label], defaults={"name": present[label], "algorithm": Algorithm.RFM, "first_run": run}
            )
            segment.profile, segment.size, segment.last_run = _jsonable(p), int(p["size"]), run
            segment.is_active, segment.retired_at, segment.centroid = True, None, []
            segment.save()
            segments[label] = segment
        _finish_membership(run, frame, labels, segments, profiles)
        run.model_state = {"features": list(features.DEFAULT_FEATURES), "columns": prepared.columns}
        run.plot_data = _plot_data(run, prepared.X, labels, frame, segments)
        run.save()


# --- Membership -------------------------------------------------------------------------------


def _finish_membership(run, frame, labels, segments: dict[int, Segment], profiles) -> None:
    segment_ids = np.array([segments[label].pk for label in range(max(segments) + 1)], dtype=np.int64)
    assignment = pd.Series(segment_ids[labels], index=frame.index, name="segment_id")
    moved, transitions = membership_write(run=run, assignment=assignment, partial=False)
    run.moved, run.transitions = moved, transitions
    for p in profiles:
        p.update(key=segments[p["label"]].key, name=segments[p["label"]].name, segment_id=segments[p["label"]].pk)
    run.profiles = _jsonable(profiles)


def membership_write(*, run: SegmentationRun, assignment: pd.Series, partial: bool) -> tuple[int, dict]:
    """Record the new segment of each customer in `assignment` (customer id -> segment id).

    Only customers whose segment changed get rows: their current membership is ended by this
    run and a new one starts. A full run (partial=False) also ends memberships of customers
    that are no longer assigned. Returns (customers moved, transitions between segment keys).
    """
    ids = assignment.index.to_numpy(dtype=np.int64) if partial else None
    current = selectors.current_membership(customer_ids=ids)["segment_id"]
    old = current.reindex(assignment.index)
    changed = old.to_numpy(dtype="float64", na_value=np.nan) != assignment.to_numpy(dtype="float64")
    movers = assignment[changed]
    ending = movers.index[old[changed].notna().to_numpy()]
    if not partial:
        ending = ending.union(current.index.difference(assignment.index))

    keys = dict(Segment.objects.values_list("pk", "key"))
    old_keys = old.map(keys).fillna(NO_PREVIOUS_SEGMENT).to_numpy(dtype=object)
    new_keys = assignment.map(keys).to_numpy(dtype=object)
    transitions = clustering.transitions(old_keys, new_keys)

    table = selectors.MEMBERSHIP_TABLE
    with connection.cursor() as cursor:
        ending_ids = ending.to_numpy(dtype=np.int64)
        for start in range(0, len(ending_ids), 50_000):
            cursor.execute(
                f"UPDATE {table} SET ended_run_id = %s WHERE ended_run_id IS NULL AND customer_id IN "
                f"({selectors.id_list(ending_ids[start:start + 50_000])})",
                [run.pk],
            )
        rows = pd.DataFrame(
            {"customer_id": movers.index.to_numpy(dtype=np.int64), "segment_id": movers.to_numpy(dtype=np.int64)}
        )
        rows["run_id"] = run.pk
        copy_rows(cursor, table, ["customer_id", "segment_id", "run_id"], rows)
    return int(len(movers)), transitions


# --- Incremental run --------------------------------------------------------------------------


def _execute_incremental(run: SegmentationRun, tracker: _Progress) -> None:
    """Re-place only the customers that changed since the last run, with that run's model.

    Cheap by design (a small fraction of a full run): no K choice, no refit, no re-aggregation
    of unchanged customers. Everyone else keeps their segment; a full run (nightly, say)
    refits the model and refreshes recency for all.
    """
    tracker.stage(2, "finding changed customers")
    base = (
        SegmentationRun.objects.filter(status=SegmentationRun.Status.SUCCEEDED, algorithm__in=CENTROID_ALGORITHMS)
        .exclude(pk=run.pk)
        .order_by("-pk")
        .first()
    )
    if base is None or "centroids" not in base.model_state:
        raise SegmentationError("an incremental run needs an earlier full k-means-like run: run a full segmentation")
    state = base.model_state
    if any(name in {"r_score", "f_score", "m_score"} for name in state["features"]):
        raise SegmentationError("RFM scores are relative to the whole shop: re-segment with a full run")
    run.base_run, run.algorithm, run.features, run.k = base, base.algorithm, state["features"], base.k
    watermark = _stats_watermark(run)
    if watermark is None:
        raise SegmentationError("the order stats were never built: run a full segmentation first")
    changed = selectors.changed_customer_ids(since=watermark)

    tracker.stage(10, f"re-aggregating {len(changed)} changed customers")
    _refresh_stats(run)
    as_of, before = _reference(run)
    if before is not None:
        raise SegmentationError("an incremental run cannot look back in time: use a full run with --as-of")
    run.as_of = as_of
    names = state["features"]
    attributes = _attributes_for(names)
    stats = selectors.order_stats_frame(customer_ids=changed)
    customers = selectors.customers_frame(attributes=attributes, customer_ids=changed)

    tracker.stage(40, "placing changed customers")
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
        centroids = np.asarray([state["centroids"][key] for key in keys])
        labels = clustering.assign(X, centroids)
        assignment = pd.Series(
            np.asarray([segment_ids[key] for key in keys], dtype=np.int64)[labels], index=frame.index
        )
    else:
        assignment = pd.Series([], dtype=np.int64)

    tracker.stage(80, "saving membership")
    with transaction.atomic():
        run.moved, run.transitions = membership_write(run=run, assignment=assignment, partial=True)
        sizes = _current_sizes()
        Segment.objects.bulk_update(
            [Segment(pk=pk, size=sizes.get(pk, 0)) for pk in segment_ids.values()], ["size"]
        )
        run.k_reason = f"kept the {len(keys)} segments of run {base.pk} (incremental)"
        run.model_state = state
        run.profiles = [{**p, "size": sizes.get(p.get("segment_id"), 0)} for p in base.profiles]
        run.metrics = {"note": f"incremental run: quality metrics are those of run {base.pk}"}
        run.plot_data = base.plot_data
        run.save()


def _current_sizes() -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT segment_id, COUNT(*) FROM {selectors.MEMBERSHIP_TABLE} WHERE ended_run_id IS NULL "
            "GROUP BY segment_id"
        )
        return dict(cursor.fetchall())


# --- Plots and JSON ---------------------------------------------------------------------------


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


def _jsonable(value):
    """NumPy and pandas scalars out, so the value can go into a JSONField."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --- Export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "customer_id",
    "segment_key",
    "segment_name",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
]


def segments_export(*, run: SegmentationRun | None = None) -> pd.DataFrame:
    """One row per customer of a run's membership with its RFM figures as of the run's date.

    The figures are recomputed from the orders known now, up to the run's date: for the latest
    run they are exactly what it clustered on.
    """
    run = run or selectors.latest_successful_run()
    if run is None:
        raise SegmentationError("no successful segmentation run yet: run `manage.py segment` first")
    membership = selectors.membership_at(run)
    latest = Order.objects.aggregate(latest=Max("ordered_at"))["latest"]
    stats = selectors.order_stats_frame(before=_cutoff(run.as_of, latest))
    customers = selectors.customers_frame()
    frame = features.build_features(stats, as_of=run.as_of, customers=customers)
    segments = pd.DataFrame.from_records(
        Segment.objects.values_list("pk", "key", "name"), columns=["segment_id", "segment_key", "segment_name"]
    ).set_index("segment_id")
    external = pd.DataFrame.from_records(
        Customer.objects.values_list("pk", "external_id"), columns=["pk", "external_id"]
    ).set_index("pk")
    out = membership.join(segments, on="segment_id").join(frame).join(external)
    out = out.reset_index(drop=True).rename(columns={"external_id": "customer_id"})
    out["monetary"] = out["monetary"].round(2)
    return out.sort_values("customer_id")[EXPORT_COLUMNS]
