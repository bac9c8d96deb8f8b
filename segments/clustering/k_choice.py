"""How many segments: k-means for each K on a sample, then the elbow's knee checked by silhouette."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from kneed import KneeLocator
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from .errors import ClusteringError
from .evaluation import silhouette
from .matrix import check_matrix, row_distances
from .sampling import sample_positions


@dataclass
class KChoice:
    k: int
    candidates: list[dict]
    knee: int | None
    best_silhouette: int
    reason: str
    params: dict = field(default_factory=dict)


def choose_k(
    X: np.ndarray,
    *,
    k_min: int = 2,
    k_max: int = 12,
    seed: int = 0,
    sample_size: int = 50_000,
    silhouette_sample: int = 5_000,
    n_init: int = 2,
    tolerance: float = 0.03,
    threads: int | None = 1,
) -> KChoice:
    """Fit k-means for every K in [k_min, k_max] on a sample and pick K from the elbow and silhouette.

    Inertia is measured on the fitting sample (sample_size rows), silhouette on the first
    silhouette_sample rows of it (silhouette is O(n^2)). The rule: take the elbow's knee (kneed,
    convex and decreasing), unless its silhouette is more than `tolerance` below the best
    silhouette, then take the best-silhouette K; with no knee, the best-silhouette K. The knee
    favours the K where adding segments stops paying off; the silhouette guards against a knee that
    cuts through a well-separated group. k_max is clamped to n - 1 and to the number of distinct rows.
    threads: see fit().
    """
    X = check_matrix(X)
    n = len(X)
    if k_min < 2:
        raise ClusteringError(f"k_min must be at least 2, not {k_min}")
    if n < k_min + 1:
        raise ClusteringError(
            f"too few customers to choose K: {n} customer(s), and trying K={k_min} needs at least {k_min + 1}"
        )
    positions = sample_positions(X, sample_size, seed)
    sample = X[positions]
    distinct = len(np.unique(sample, axis=0))
    k_max = min(k_max, n - 1, distinct)
    if k_max < k_min:
        raise ClusteringError(
            f"too few distinct customers to choose K: only {distinct} different feature rows, need more than {k_min}"
        )

    silhouette_rows = sample[:silhouette_sample]
    m = len(silhouette_rows)
    # One distance matrix for all K (float32: 100 MB for the default 5,000 rows) instead of one per K.
    distances = (
        row_distances(silhouette_rows, 0, m, np.einsum("ij,ij->i", silhouette_rows, silhouette_rows), np.float32)
        if m <= 8_192
        else None
    )
    candidates = []
    for k in range(k_min, k_max + 1):
        with threadpool_limits(limits=threads):
            model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(sample)
            score = silhouette(silhouette_rows, model.labels_[:silhouette_sample], distances=distances)
        candidates.append(
            {"k": k, "inertia": float(model.inertia_), "silhouette": None if score is None else round(score, 4)}
        )

    scored = [c for c in candidates if c["silhouette"] is not None]
    if not scored:
        raise ClusteringError("no K gives a usable silhouette: the customers do not form separate groups")
    best = max(scored, key=lambda c: (c["silhouette"], -c["k"]))
    knee = _knee([c["k"] for c in candidates], [c["inertia"] for c in candidates])
    by_k = {c["k"]: c for c in candidates}
    knee_silhouette = by_k[knee]["silhouette"] if knee is not None else None

    if knee is None:
        k = best["k"]
        reason = f"K={k}: the inertia curve has no clear elbow, so the best silhouette ({best['silhouette']:.2f}) decides"
    elif knee == best["k"]:
        k = knee
        reason = f"K={k}: the elbow's knee is at {k} and it also has the best silhouette ({best['silhouette']:.2f})"
    elif knee_silhouette is not None and knee_silhouette >= best["silhouette"] - tolerance:
        k = knee
        reason = (
            f"K={k}: the elbow's knee is at {k} and its silhouette ({knee_silhouette:.2f}) is within "
            f"{tolerance:g} of the best ({best['silhouette']:.2f} at K={best['k']})"
        )
    else:
        k = best["k"]
        shown = "none" if knee_silhouette is None else f"{knee_silhouette:.2f}"
        reason = (
            f"K={k}: best silhouette ({best['silhouette']:.2f}); the elbow's knee at {knee} was passed over "
            f"because its silhouette ({shown}) is more than {tolerance:g} below the best"
        )
    params = {
        "k_min": k_min,
        "k_max": k_max,
        "seed": seed,
        "n_init": n_init,
        "tolerance": tolerance,
        "sample_size": len(sample),
        "silhouette_sample": len(silhouette_rows),
        "threads": threads,
    }
    return KChoice(k=k, candidates=candidates, knee=knee, best_silhouette=best["k"], reason=reason, params=params)


def _knee(ks: list[int], inertias: list[float]) -> int | None:
    if len(ks) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns "No knee/elbow found"; None says the same
        knee = KneeLocator(ks, inertias, curve="convex", direction="decreasing").knee
    return None if knee is None else int(knee)
