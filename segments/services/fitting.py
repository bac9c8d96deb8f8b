"""A full run: features of every customer, the model fitted (or the RFM grid), evaluated, profiled
and named, its clusters matched to the live segments. What it found goes to applying.py, which
makes it live or keeps it as a draft."""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.conf import settings

from segcampaign import jobs
from segments import clustering, features, frames, selectors
from segments.models import Algorithm, SegmentationRun

from .applying import run_result_save
from .errors import SegmentationError
from .reference import run_feature_names, run_reference
from .segment_store import jsonable, rfm_key, segments_plan
from .stats import stats_refresh_for_run


def run_full(run: SegmentationRun, progress: jobs.Progress) -> None:
    progress.stage("aggregate", percent=2)
    as_of, before = run_reference(run)
    run.as_of = as_of
    stats = stats_refresh_for_run(run) if before is None else None

    progress.stage("load", percent=15)
    names, attributes = run_feature_names(run)
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
    segments_plan(profiles, auto_names=auto_names, keys=matches)
    keys = {p["label"]: p["key"] for p in profiles}
    run.profiles = jsonable(profiles)
    run.warnings = [*run.warnings, *clustering.size_flags(run.profiles)]
    run.model_state = {
        "preprocess": prepared.state,
        "columns": prepared.columns,
        "features": names,
        "centroids": {keys[label]: result.centroids[label].round(6).tolist() for label in keys},
        "cluster_params": result.params,
        "as_of": run.as_of.isoformat(),
        "no_orders_recency": _no_orders_recency(frame),
    }
    run.plot_data = _plot_data(run, X, labels, frame, profiles)
    run_result_save(run, pd.Series(labels, index=frame.index, name="label"))


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
    segments_plan(
        profiles, auto_names=dict(enumerate(present)), keys={label: rfm_key(name) for label, name in enumerate(present)}
    )
    run.profiles = jsonable(profiles)
    run.warnings = [*run.warnings, *clustering.size_flags(run.profiles, rule=True)]
    run.model_state = {"features": measured, "columns": prepared.columns}
    run.plot_data = _plot_data(run, prepared.X, labels, frame, profiles)
    run_result_save(run, pd.Series(labels, index=frame.index, name="label"))


def _plot_data(run, X, labels, frame, profiles: list[dict]) -> dict:
    by_label = {p["label"]: p for p in profiles}
    projection = clustering.projection(X, labels, sample_size=run.params["plot_sample"], seed=run.params["seed"])
    projection["segments"] = [by_label[int(label)]["key"] for label in projection.pop("labels")]
    data = {"projection": projection, "names": {p["key"]: p["name"] for p in profiles}}
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
