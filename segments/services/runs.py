"""Segmentation runs: checked and created, claimed, run to the end and recorded; orchestration only.

A full run (fitting.py) or an incremental one (incremental.py) computes the segments; applying.py
makes them live or keeps them as a draft. The numbers come from the pure modules (features.py,
clustering/); the order stats, segment rows and membership are written by the neighbouring
service modules. This module reports progress through the job lifecycle (segcampaign.jobs) and
records what happened on the run row. Entry points (the `segment` command, the Celery tasks,
the admin button) call `segmentation_run_create` and `segmentation_run_execute`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import IntegrityError, transaction

from segcampaign import jobs
from segments import clustering, features, selectors
from segments.models import Algorithm, SegmentationRun

from .applying import RESULT_FIELDS
from .errors import USER_ERRORS, RunInProgress, SegmentationError
from .fitting import run_full
from .incremental import run_incremental

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


def segmentation_run_create(
    *,
    algorithm: str = Algorithm.KMEANS,
    k: int | None = None,
    feature_names: Sequence[str] = (),
    as_of: dt.date | None = None,
    incremental: bool = False,
    triggered_by: str = "",
    params: dict | None = None,
    go_live: str = SegmentationRun.GoLive.IF_FIT,
) -> SegmentationRun:
    """A queued run, its request checked: a bad request is refused here, before any row exists.

    go_live: whether it makes its segments live as it ends (SegmentationRun.GoLive): "if_fit"
    (the command, the schedule), "never" (a draft: the admin's default) or "always" (--force).
    """
    if go_live not in SegmentationRun.GoLive.values:
        choices = ", ".join(SegmentationRun.GoLive.values)
        raise SegmentationError(f"unknown go_live {go_live!r}; choose one of {choices}")
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
        go_live=go_live,
    )


def segmentation_run_execute(*, run_id: int, listener: Callable[[str, int], None] | None = None) -> SegmentationRun:
    """Run one queued segmentation to the end. Never raises for bad input: the run says why.

    Raises RunInProgress when another run holds the lock (the caller decides to retry), and
    re-raises an unexpected error after recording it on the run. `listener` hears each stage.
    """
    run = _claim(run_id)
    # What it compares itself with: it goes live only if this is still the live run then.
    run.compared_with = selectors.latest_successful_run(exclude=run.pk)
    error, crash = "", None
    with jobs.job_running(run, listener=listener) as progress:
        try:
            if run.incremental:
                run_incremental(run, progress)
            else:
                run_full(run, progress)
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
