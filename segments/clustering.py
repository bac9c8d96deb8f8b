"""The numerical core of segmentation: preprocess, choose K, fit, evaluate, profile, name, match.

NumPy, pandas, SciPy and scikit-learn only; nothing here imports Django, so every function is tested
with plain arrays and benchmarked alone (bench/clustering_algorithms.py).

Figures this module is built for: 1,000,000 customers x 3..10 features on 2 cores, with choose_k in
about 2 s and fit + evaluate + profile in about 3 s (k-means). Nothing builds an n x n matrix: the
O(n^2) steps (silhouette, Ward, HDBSCAN) run on bounded samples.

Samples are taken by hashing each row's values with the seed and keeping the smallest hashes. The
sample is then a random one that does not depend on the order of the rows, so the same customers
and seed give the same segments however the database happened to return them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from kneed import KneeLocator
from scipy.optimize import linear_sum_assignment
from scipy.spatial import KDTree
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits


class ClusteringError(ValueError):
    """Input that cannot be clustered; the message says what to change."""


_NAMES = ("kmeans", "minibatch", "gmm", "agglomerative", "hdbscan", "rfm")
NEEDS_K = ("kmeans", "minibatch", "gmm", "agglomerative")


@dataclass(frozen=True)
class _Spec:
    needs_k: bool
    has_centroids: bool


ALGORITHMS = {name: _Spec(needs_k=name in NEEDS_K, has_centroids=name in NEEDS_K) for name in _NAMES}

RFM_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Cannot lose them",
    "Hibernating",
    "Lost",
)

# The classic R x FM grid: rows are the recency score R (5 = bought most recently), columns the
# average of the frequency and monetary scores, rounded down (a 4 and a 5 make a 4: both must be
# high to reach the top column). Every one of the 25 cells has exactly one of the 11 names.
_RFM_GRID = np.array(
    [
        # FM:  1                 2                     3                     4                   5
        ["Lost", "Lost", "At risk", "Cannot lose them", "Cannot lose them"],  # R = 1
        ["Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"],  # R = 2
        ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],  # R = 3
        ["Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"],  # R = 4
        ["New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"],  # R = 5
    ],
    dtype=object,
)

RFM_COLUMNS = ("recency_days", "frequency", "monetary")
# In transitions: where customers who had no segment before the run come from.
NO_PREVIOUS_SEGMENT = "(new)"
NOISE_NAME = "Outliers"
NO_ORDERS_NAME = "Not yet purchased"

# Rows per block when a step walks all customers: bounded memory (a 65,536 x 12 float block is 6 MB)
# and large enough that the per-block Python overhead disappears.
_CHUNK_ROWS = 65_536


# --------------------------------------------------------------------------------------------------
# Preprocessing


@dataclass
class Preprocessed:
    X: np.ndarray
    columns: list[str]
    state: dict


def preprocess(
    frame: pd.DataFrame,
    *,
    scaler: str = "standard",
    log1p: str | Sequence[str] = "auto",
    categorical: Sequence[str] = (),
) -> Preprocessed:
    """Impute, log-transform, scale and one-hot `frame` into the matrix the algorithms cluster.

    - Missing numbers take the column median (recorded in state["impute"]).
    - log1p="auto" log-transforms numeric columns with skew > 1 (long-tailed money and counts),
      except 0/1 columns. The transform is the signed log sign(x) * log1p(|x|): identical to log1p
      for non-negative values, and it keeps net spend with returns (negative) on the same scale.
      state["log1p"] lists the columns; state["signed_log1p"] the ones that had negative values.
      A list names the columns explicitly; () or [] turns the log off.
    - scaler="standard" centres on the mean and divides by the standard deviation (StandardScaler);
      "robust" uses the median and the interquartile range (RobustScaler). A column with the same
      value for every customer cannot be scaled: ClusteringError names it. With "robust", a column
      whose IQR is 0 but which does vary (more than half the customers bought exactly once) is
      divided by its standard deviation instead, recorded in state["scale_fallback"].
    - `categorical` columns are one-hot encoded (0/1, not scaled) after the numeric ones, named
      "column=value"; unknown or missing values in later rows encode as all zeros.
    """
    if scaler not in ("standard", "robust"):
        raise ClusteringError(f"unknown scaler {scaler!r}: use 'standard' or 'robust'")
    if len(frame.columns) == 0:
        raise ClusteringError("no feature columns to cluster on")
    if len(frame) == 0:
        raise ClusteringError("no customers to cluster: the feature frame is empty")
    categorical = list(categorical)
    missing = [name for name in categorical if name not in frame.columns]
    if missing:
        raise ClusteringError(f"categorical column(s) {missing} not in the features {list(frame.columns)}")
    numeric = [name for name in frame.columns if name not in categorical]

    impute, values = {}, {}
    for name in numeric:
        column = _numeric_column(frame, name)
        present = column[~np.isnan(column)]
        if present.size == 0:
            raise ClusteringError(f"column {name!r} has no values: every customer is missing it")
        impute[name] = float(np.median(present))
        values[name] = np.where(np.isnan(column), impute[name], column)

    if isinstance(log1p, str):
        if log1p != "auto":
            raise ClusteringError(f"log1p must be 'auto' or a list of column names, not {log1p!r}")
        logged = [name for name in numeric if _is_long_tailed(values[name])]
    else:
        logged = list(log1p)
        unknown = [name for name in logged if name not in numeric]
        if unknown:
            raise ClusteringError(f"cannot log-transform {unknown}: not numeric feature columns {numeric}")

    center, scale, fallback = {}, {}, {}
    for name in numeric:
        column = _signed_log1p(values[name]) if name in logged else values[name]
        if scaler == "standard":
            center[name], scale[name] = float(column.mean()), float(column.std())
        else:
            q25, median, q75 = np.percentile(column, [25, 50, 75])
            center[name], scale[name] = float(median), float(q75 - q25)
            if scale[name] == 0:
                scale[name] = float(column.std())
                fallback[name] = "std"
        if not scale[name] > 0:
            raise ClusteringError(
                f"column {name!r} has the same value for every customer ({_fmt(values[name][0])}), "
                "so it cannot be scaled or separate segments: leave it out"
            )

    categories = {name: sorted(frame[name].dropna().astype("str").unique().tolist()) for name in categorical}
    state = {
        "version": 1,
        "input_columns": [str(name) for name in frame.columns],
        "numeric": numeric,
        "categorical": categorical,
        "impute": impute,
        "log1p": logged,
        "signed_log1p": [name for name in logged if values[name].min() < 0],
        "scaler": scaler,
        "center": center,
        "scale": scale,
        "scale_fallback": fallback,
        "categories": categories,
    }
    state["columns"] = _output_columns(state)
    return Preprocessed(X=transform(frame, state), columns=list(state["columns"]), state=state)


def transform(frame: pd.DataFrame, state: dict) -> np.ndarray:
    """Apply a fitted preprocessing (Preprocessed.state, also after a JSON round trip) to rows."""
    missing = [name for name in state["input_columns"] if name not in frame.columns]
    if missing:
        raise ClusteringError(f"the rows lack the column(s) {missing} this model was fitted on")
    X = np.zeros((len(frame), len(state["columns"])), dtype=np.float64)
    logged = set(state["log1p"])
    for j, name in enumerate(state["numeric"]):
        column = _numeric_column(frame, name)
        column = np.where(np.isnan(column), state["impute"][name], column)
        if name in logged:
            column = _signed_log1p(column)
        X[:, j] = (column - state["center"][name]) / state["scale"][name]
    offset = len(state["numeric"])
    for name in state["categorical"]:
        known = state["categories"][name]
        codes = pd.Index(known, dtype=object).get_indexer(frame[name].astype("str").to_numpy(dtype=object))
        rows = np.flatnonzero(codes >= 0)
        X[rows, offset + codes[rows]] = 1.0
        offset += len(known)
    return X


def _output_columns(state: dict) -> list[str]:
    columns = list(state["numeric"])
    for name in state["categorical"]:
        columns.extend(f"{name}={value}" for value in state["categories"][name])
    return columns


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    series = frame[name]
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    if not pd.api.types.is_numeric_dtype(series.dtype):
        example = series.dropna().iloc[0] if series.notna().any() else None
        raise ClusteringError(
            f"column {name!r} is not numeric (e.g. {example!r}): pass it in categorical=[...] or leave it out"
        )
    column = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(column).any():
        raise ClusteringError(f"column {name!r} has infinite values")
    return column


def _is_long_tailed(column: np.ndarray) -> bool:
    # A 0/1 flag with few ones is "skewed" too, but logging it changes nothing useful.
    if np.isin(column, (0.0, 1.0)).all():
        return False
    skew = pd.Series(column).skew()
    return bool(np.isfinite(skew) and skew > 1)


def _signed_log1p(column: np.ndarray) -> np.ndarray:
    return np.sign(column) * np.log1p(np.abs(column))


# --------------------------------------------------------------------------------------------------
# Samples that do not depend on row order


def _row_hashes(X: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash of each row's values and the seed (splitmix64 rounds, vectorised)."""
    bits = np.ascontiguousarray(X + 0.0).view(np.uint64)  # + 0.0 folds -0.0 into 0.0
    hashes = np.full(len(X), (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64, dtype=np.uint64)
    for j in range(bits.shape[1]):
        hashes ^= bits[:, j]
        hashes += np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(30)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(27)
        hashes *= np.uint64(0x94D049BB133111EB)
        hashes ^= hashes >> np.uint64(31)
    return hashes


def _sample_positions(X: np.ndarray, size: int | None, seed: int, hashes: np.ndarray | None = None) -> np.ndarray:
    """Positions of a random sample of `size` rows (all rows when None or n <= size), in hash order.

    Identical rows hash alike, so the sample's values, and their order, are the same for any
    permutation of X; only which of two identical rows is picked may differ, which changes nothing.
    """
    hashes = _row_hashes(X, seed) if hashes is None else hashes
    if size is None or len(X) <= size:
        return np.argsort(hashes, kind="stable")
    chosen = np.argpartition(hashes, size - 1)[:size]
    return chosen[np.argsort(hashes[chosen], kind="stable")]


def _hash_batches(hashes: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Random batches of about batch_size rows whose membership does not depend on row order.

    A row's batch is a slice of its hash range. Cheaper than sorting all hashes (0.05 s against
    0.25 s for 1M rows): the batch numbers are small integers, which numpy radix-sorts.
    """
    n_batches = max(1, math.ceil(len(hashes) / batch_size))
    batch = ((hashes >> np.uint64(40)) * np.uint64(n_batches)) >> np.uint64(24)
    dtype = np.uint16 if n_batches <= 2**16 else np.uint32
    rows = np.argsort(batch.astype(dtype), kind="stable")
    bounds = np.cumsum(np.bincount(batch.astype(np.int64), minlength=n_batches))[:-1]
    return [part for part in np.split(rows, bounds) if len(part)]


# --------------------------------------------------------------------------------------------------
# Choosing K


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
    X = _check_matrix(X)
    n = len(X)
    if k_min < 2:
        raise ClusteringError(f"k_min must be at least 2, not {k_min}")
    if n < k_min + 1:
        raise ClusteringError(
            f"too few customers to choose K: {n} customer(s), and trying K={k_min} needs at least {k_min + 1}"
        )
    positions = _sample_positions(X, sample_size, seed)
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
        _distances(silhouette_rows, 0, m, np.einsum("ij,ij->i", silhouette_rows, silhouette_rows), np.float32)
        if m <= 8_192
        else None
    )
    candidates = []
    for k in range(k_min, k_max + 1):
        with threadpool_limits(limits=threads):
            model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(sample)
            silhouette = _silhouette(silhouette_rows, model.labels_[:silhouette_sample], distances=distances)
        candidates.append(
            {"k": k, "inertia": float(model.inertia_), "silhouette": None if silhouette is None else round(silhouette, 4)}
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


# --------------------------------------------------------------------------------------------------
# Fitting


@dataclass
class ClusterResult:
    labels: np.ndarray
    centroids: np.ndarray
    n_clusters: int
    algorithm: str
    params: dict
    inertia: float | None
    noise: bool = False


_OPTIONS = {
    "kmeans": {"n_init", "max_iter"},
    "minibatch": {"n_init", "batch_size", "epochs"},
    "gmm": {"covariance_type", "gmm_sample", "n_init", "max_iter"},
    "agglomerative": {"agglomerative_sample", "linkage"},
    "hdbscan": {"hdbscan_sample", "min_cluster_size", "min_samples"},
    "rfm": {"names"},
}

# MiniBatch k-means, measured on 1M x 5 long-tailed RFM-like rows, 2 cores, sklearn 1.9:
#   KMeans(n_init=1) on all rows                  1.1 s (K=4)   1.2-2.0 s (K=8)
#   KMeans(n_init=4) on all rows                  2.6-2.9 s (K=2), 6.5 s (K=8)
#   MiniBatchKMeans.fit, batch 1,024 (default)    0.1 s but inertia 4.8% worse (K=4, stops early),
#                                                 12.9 s (K=8), 70-98 s (K=2)
#   MiniBatchKMeans.fit, batch 8,192 / 100,000    3.3 s / 2.3 s (K=4), 15.0 s / 4.9 s (K=8)
#   k-means++ on a 50k sample + 1 pass of partial_fit in batches of 16,384: 0.27-0.34 s for the
#   pass (K=4..8), inertia within 0.01% of full k-means; the whole fit 0.5-0.7 s.
# MiniBatchKMeans.fit draws every batch with choice(n, p=weights), which costs O(n) per step, so
# no batch size makes it beat k-means on a million rows. Feeding partial_fit ourselves avoids it.
# Against our "kmeans" (seeded on the same sample, then 4-9 Lloyd passes over all rows: 0.4-0.8 s)
# one pass of batches saves 0.1-0.5 s; the larger K, the more Lloyd passes it saves.
_MINIBATCH_SIZE = 16_384


def fit(
    X: np.ndarray,
    *,
    algorithm: str = "kmeans",
    k: int | None = None,
    seed: int = 0,
    sample_size: int = 50_000,
    threads: int | None = 1,
    **options,
) -> ClusterResult:
    """Cluster the scaled rows of X; labels are relabelled by size (0 = largest), ties by centroid.

    - kmeans: k-means++ with n_init restarts (default 4) on a sample of sample_size rows, then
      Lloyd iterations on all rows from the best sample centroids (a few iterations: the restarts
      are where the time goes, and they need no more than a sample to find the basin).
    - minibatch: the same seeding, then one pass (epochs) of MiniBatchKMeans.partial_fit over all
      rows in batches of 16,384 (see the measurements above), rows assigned to the nearest centroid.
    - gmm: GaussianMixture on a sample (gmm_sample, default 20,000), every row predicted.
    - agglomerative: Ward on a sample (agglomerative_sample, default 5,000: Ward is O(n^2) in
      memory and time), other rows assigned to the nearest sample-cluster centroid.
    - hdbscan: HDBSCAN on a sample (hdbscan_sample, default 10,000; min_cluster_size default 1% of
      it), other rows take the label of their nearest sample row; noise is label -1 and its mean is
      the last centroid row (noise=True). k is not used: HDBSCAN finds the number itself.
    - rfm: no fitting; names=rfm_segments(...) per row become the labels, so the rule-based
      segments get centroids and metrics like the others (params["names"][label] is the name).

    Same X (in any row order) and seed give the same partition and labels.

    threads caps the OpenMP/BLAS threads of the fit (None: all cores). One is the default: with the
    database and other work sharing 2 cores, OpenMP threads spin-wait for each other and k-means on
    1M x 5 took 2.1-5.0 s with two threads against 0.9 s with one (and less CPU time), measured
    with other processes busy. On an idle machine two threads save ~30%.
    """
    with threadpool_limits(limits=threads):
        return _fit(X, algorithm=algorithm, k=k, seed=seed, sample_size=sample_size, threads=threads, **options)


def _fit(X, *, algorithm, k, seed, sample_size, threads, **options) -> ClusterResult:
    if algorithm not in ALGORITHMS:
        raise ClusteringError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    unknown = set(options) - _OPTIONS[algorithm]
    if unknown:
        raise ClusteringError(
            f"option(s) {sorted(unknown)} do not apply to {algorithm}; it takes {sorted(_OPTIONS[algorithm])}"
        )
    X = _check_matrix(X)
    n = len(X)
    if algorithm in NEEDS_K:
        if k is None:
            raise ClusteringError(f"{algorithm} needs k: run choose_k first to pick it")
        if k < 1:
            raise ClusteringError(f"k must be at least 1, not {k}")
        if n < k:
            raise ClusteringError(f"too few customers for K={k}: only {n} customer(s)")
    params = {"k": k, "seed": seed, "threads": threads}
    hashes = _row_hashes(X, seed)
    positions = _sample_positions(X, sample_size, seed, hashes)

    if algorithm in ("kmeans", "minibatch"):
        sample = X[positions]
        distinct = len(np.unique(sample, axis=0))
        if distinct < k:
            raise ClusteringError(f"too few distinct customers for K={k}: only {distinct} different feature rows")
        n_init = options.get("n_init", 4)
        seeded = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(sample)
        params.update(n_init=n_init, sample_size=len(sample))
        if algorithm == "kmeans":
            if len(sample) == n:
                raw = np.empty(n, dtype=np.int64)
                raw[positions] = seeded.labels_
            else:
                max_iter = options.get("max_iter", 300)
                full = KMeans(n_clusters=k, init=seeded.cluster_centers_, n_init=1, max_iter=max_iter).fit(X)
                raw = full.labels_
                params.update(max_iter=max_iter, full_iterations=int(full.n_iter_))
        else:
            batch_size = options.get("batch_size", _MINIBATCH_SIZE)
            epochs = options.get("epochs", 1)
            model = MiniBatchKMeans(
                n_clusters=k, init=seeded.cluster_centers_, n_init=1, batch_size=batch_size, random_state=seed,
                compute_labels=False,
            )
            for _ in range(epochs):
                for rows in _hash_batches(hashes, batch_size):
                    model.partial_fit(X[rows])
            raw = assign(X, model.cluster_centers_)
            params.update(batch_size=batch_size, epochs=epochs)
    elif algorithm == "gmm":
        size = min(len(positions), options.get("gmm_sample", 20_000))
        covariance_type = options.get("covariance_type", "full")
        n_init = options.get("n_init", 1)
        max_iter = options.get("max_iter", 100)
        sample = X[positions[:size]]
        # GMM's many small matrix products run 3x slower with two BLAS threads than with one
        # (3.1 s against 10.6 s for 20k x 5, K=8 on 2 cores): the threads fight over tiny blocks.
        with threadpool_limits(limits=1, user_api="blas"):  # even when threads > 1
            model = GaussianMixture(
                n_components=k, covariance_type=covariance_type, n_init=n_init, max_iter=max_iter, random_state=seed
            ).fit(sample)
            raw = np.concatenate([model.predict(X[s : s + _CHUNK_ROWS * 4]) for s in range(0, n, _CHUNK_ROWS * 4)])
        params.update(
            sample_size=size, covariance_type=covariance_type, n_init=n_init, max_iter=max_iter,
            converged=bool(model.converged_),
        )
    elif algorithm == "agglomerative":
        size = min(len(positions), options.get("agglomerative_sample", 5_000))
        linkage = options.get("linkage", "ward")
        sample_positions = positions[:size]
        if size < k:
            raise ClusteringError(f"agglomerative_sample ({size}) is smaller than K={k}")
        sample_labels = AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(X[sample_positions])
        raw = assign(X, _centroids(X[sample_positions], sample_labels, k))
        raw[sample_positions] = sample_labels
        params.update(sample_size=size, linkage=linkage)
    elif algorithm == "hdbscan":
        size = min(len(positions), options.get("hdbscan_sample", 10_000))
        min_cluster_size = options.get("min_cluster_size", max(5, round(size * 0.01)))
        min_samples = options.get("min_samples")
        if size < 2 or size < min_cluster_size:
            raise ClusteringError(f"too few customers for HDBSCAN: {size}, with min_cluster_size={min_cluster_size}")
        sample_positions = positions[:size]
        sample = X[sample_positions]
        sample_labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(sample)
        if (sample_labels < 0).all():
            raise ClusteringError(
                f"HDBSCAN found only noise in {size} customers: try a smaller min_cluster_size (was {min_cluster_size})"
            )
        # scipy's KDTree answers a million 1-NN queries 4x faster than sklearn's NearestNeighbors
        # (1.4 s against 5.3 s for 1M against 10k rows in 5 dimensions on 2 cores): same exact answer.
        _, nearest = KDTree(sample).query(X, k=1, workers=-1)
        raw = sample_labels[nearest].astype(np.int64)
        raw[sample_positions] = sample_labels
        params = {"k_requested": k, "seed": seed, "threads": threads, "sample_size": size, "min_cluster_size": min_cluster_size,
                  "min_samples": min_samples}
    else:
        names = options.get("names")
        if names is None or len(names) != n:
            raise ClusteringError("rfm needs names=rfm_segments(r, f, m), one name per row of X")
        names = np.asarray(names, dtype=object)
        raw = pd.Index(RFM_SEGMENTS, dtype=object).get_indexer(names).astype(np.int64)
        if (raw < 0).any():
            raise ClusteringError(f"unknown RFM segment name {names[raw < 0][0]!r}")
        result = _finish(X, raw, algorithm=algorithm, params={"seed": seed, "threads": threads})
        labels, first_rows = np.unique(result.labels, return_index=True)
        result.params["names"] = {int(label): str(names[row]) for label, row in zip(labels, first_rows)}
        return result
    return _finish(X, raw, algorithm=algorithm, params=params)


def _finish(X: np.ndarray, raw: np.ndarray, *, algorithm: str, params: dict) -> ClusterResult:
    """Relabel by size (largest = 0; equal sizes by centroid coordinates), compute centroids and inertia."""
    raw = np.asarray(raw, dtype=np.int64)
    clustered = raw >= 0
    # Raw labels are small integers: bincount finds the non-empty ones without sorting a million.
    all_counts = np.bincount(raw[clustered]) if clustered.any() else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(all_counts)
    counts = all_counts[present]
    code_of_raw = np.full(len(all_counts), -1, dtype=np.int64)
    code_of_raw[present] = np.arange(len(present))
    codes = np.where(clustered, code_of_raw[np.maximum(raw, 0)], -1)
    centroids = _label_sums(X, codes, len(present)) / counts[:, None]
    keys = tuple(centroids[:, j] for j in reversed(range(X.shape[1]))) + (-counts,)
    order = np.lexsort(keys)
    new_of_old = np.empty(len(present), dtype=np.int64)
    new_of_old[order] = np.arange(len(present))
    labels = np.where(clustered, new_of_old[np.maximum(codes, 0)], -1)
    centroids = centroids[order]
    noise = bool((~clustered).any())
    inertia = _within_ss(X, labels, centroids)
    if noise:
        centroids = np.vstack([centroids, X[~clustered].mean(axis=0)])
    return ClusterResult(
        labels=labels,
        centroids=centroids,
        n_clusters=len(present),
        algorithm=algorithm,
        params=params,
        inertia=inertia,
        noise=noise,
    )


def _label_sums(X: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Per-label column sums; codes -1 are skipped (no copy of X)."""
    shifted = codes + 1
    return np.column_stack(
        [np.bincount(shifted, weights=X[:, j], minlength=n_labels + 1)[1:] for j in range(X.shape[1])]
    ).reshape(n_labels, X.shape[1])


def _centroids(X: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
    return _label_sums(X, labels, n_labels) / np.maximum(counts, 1)[:, None]


def _within_ss(X: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    total = 0.0
    for start in range(0, len(X), _CHUNK_ROWS):
        block, block_labels = X[start : start + _CHUNK_ROWS], labels[start : start + _CHUNK_ROWS]
        keep = block_labels >= 0
        diff = block[keep] - centroids[block_labels[keep]]
        total += float(np.einsum("ij,ij->", diff, diff))
    return total


def assign(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for every row (ties: the lower index), in bounded blocks.

    Pass only cluster centroids (result.centroids[:result.n_clusters]): a noise "centroid" is the
    mean of scattered points, not a place customers gather around.
    """
    X = np.asarray(X, dtype=np.float64)
    centroids = np.asarray(centroids, dtype=np.float64)
    if X.ndim != 2 or centroids.ndim != 2 or X.shape[1] != centroids.shape[1]:
        raise ClusteringError(
            f"rows have shape {X.shape} and centroids {centroids.shape}: they need the same number of features"
        )
    if len(centroids) == 0:
        raise ClusteringError("no centroids to assign to")
    labels = np.empty(len(X), dtype=np.int64)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 does not change which c is nearest.
    centroid_norms = np.einsum("ij,ij->i", centroids, centroids)
    for start in range(0, len(X), _CHUNK_ROWS):
        block = X[start : start + _CHUNK_ROWS]
        labels[start : start + len(block)] = np.argmin(centroid_norms - 2.0 * block @ centroids.T, axis=1)
    return labels


def _check_matrix(X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ClusteringError(f"expected a 2-D array of customers x features, got shape {X.shape}")
    if len(X) == 0 or X.shape[1] == 0:
        raise ClusteringError(f"nothing to cluster: {X.shape[0]} customer(s) x {X.shape[1]} feature(s)")
    if not np.isfinite(X).all():
        raise ClusteringError("the feature matrix has missing or infinite values: preprocess it first")
    return X


# --------------------------------------------------------------------------------------------------
# Evaluation


def _distances(X: np.ndarray, start: int, stop: int, sq_norms: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Euclidean distances from rows start:stop of X to all rows (self-distance exactly 0)."""
    distances = sq_norms[start:stop, None] + sq_norms[None, :] - 2.0 * (X[start:stop] @ X.T)
    np.maximum(distances, 0.0, out=distances)
    np.sqrt(distances, out=distances)
    distances[np.arange(stop - start), np.arange(start, stop)] = 0.0
    return distances.astype(dtype, copy=False)


def _silhouette(X: np.ndarray, labels: np.ndarray, *, distances: np.ndarray | None = None) -> float | None:
    """Mean silhouette (Euclidean), as sklearn.metrics.silhouette_score, in bounded row blocks.

    sklearn reduces each block of distances with one bincount per row; one matrix product with
    the one-hot labels does all rows at once (0.1 s against 0.5 s for 5,000 rows). `distances`,
    the full m x m matrix, lets choose_k compute it once for every K it tries.
    None when it is undefined: fewer than 2 clusters or as many clusters as rows.
    """
    m = len(X)
    present, codes = np.unique(labels, return_inverse=True)
    k = len(present)
    if k < 2 or k > m - 1:
        return None
    onehot = np.zeros((m, k), dtype=np.float64 if distances is None else distances.dtype)
    onehot[np.arange(m), codes] = 1.0
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    sq_norms = np.einsum("ij,ij->i", X, X) if distances is None else None
    scores = np.empty(m)
    rows = m if distances is not None else max(1, 4_000_000 // m)  # 32 MB of distances per block
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        block = distances[start:stop] if distances is not None else _distances(X, start, stop, sq_norms)
        local = np.arange(stop - start)
        sums = (block @ onehot).astype(np.float64)
        own = codes[start:stop]
        own_size = counts[own]
        intra = sums[local, own] / np.maximum(own_size - 1, 1)
        means = sums / counts
        means[local, own] = np.inf
        inter = means.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = (inter - intra) / np.maximum(intra, inter)
        values[(own_size == 1) | ~np.isfinite(values)] = 0.0
        scores[start:stop] = values
    return float(scores.mean())


def evaluate(
    X: np.ndarray, labels: np.ndarray, *, sample_size: int = 10_000, seed: int = 0, threads: int | None = 1
) -> dict:
    """Silhouette, Davies-Bouldin and Calinski-Harabasz on a bounded sample, plus sizes of all labels.

    Noise rows (-1) are left out of the metrics. With fewer than two clusters the metrics are None
    and "reason" says why; that is a result, not an error. threads: see fit().
    """
    with threadpool_limits(limits=threads):
        return _evaluate(X, labels, sample_size=sample_size, seed=seed)


def _evaluate(X: np.ndarray, labels: np.ndarray, *, sample_size: int, seed: int) -> dict:
    X = _check_matrix(X)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(X):
        raise ClusteringError(f"{len(labels)} labels for {len(X)} rows")
    values, counts = np.unique(labels, return_counts=True)
    sizes = {int(v): int(c) for v, c in zip(values, counts) if v >= 0}
    if (values < 0).any():
        sizes[-1] = int(counts[values < 0].sum())
    result = {
        "silhouette": None,
        "davies_bouldin": None,
        "calinski_harabasz": None,
        "sizes": sizes,
        "noise_share": round(sizes.get(-1, 0) / len(X), 4),
        "sample_size": 0,
        "reason": None,
    }
    clustered = np.flatnonzero(labels >= 0)
    n_clusters = len(values[values >= 0])
    if n_clusters < 2:
        result["reason"] = (
            f"only {n_clusters} cluster(s): separation metrics need at least two"
            if n_clusters
            else "every customer is noise: no clusters to measure"
        )
        return result
    rows = clustered[_sample_positions(X[clustered], sample_size, seed)]
    sample, sample_labels = X[rows], labels[rows]
    result["sample_size"] = len(rows)
    if len(np.unique(sample_labels)) < 2:
        result["reason"] = "the sample holds one cluster only: raise sample_size"
        return result
    silhouette = _silhouette(sample, sample_labels)
    result["silhouette"] = None if silhouette is None else round(silhouette, 4)
    result["davies_bouldin"] = round(float(davies_bouldin_score(sample, sample_labels)), 4)
    result["calinski_harabasz"] = round(float(calinski_harabasz_score(sample, sample_labels)), 2)
    if silhouette is None:
        result["reason"] = "silhouette undefined: as many clusters as sampled customers"
    return result


# --------------------------------------------------------------------------------------------------
# Rule-based RFM


def rfm_segments(r_score: np.ndarray, f_score: np.ndarray, m_score: np.ndarray) -> np.ndarray:
    """The classic RFM segment name for each customer from scores 1..5 (5 = best), see _RFM_GRID."""
    scores = []
    for name, values in (("r_score", r_score), ("f_score", f_score), ("m_score", m_score)):
        array = np.asarray(values)
        if array.ndim != 1:
            raise ClusteringError(f"{name} must be one score per customer")
        if array.size and (not np.isfinite(array.astype(np.float64)).all() or (array % 1 != 0).any()
                           or array.min() < 1 or array.max() > 5):
            raise ClusteringError(f"{name} must hold whole scores from 1 to 5")
        scores.append(array.astype(np.int64))
    if not len(scores[0]) == len(scores[1]) == len(scores[2]):
        raise ClusteringError("r_score, f_score and m_score must have one value per customer each")
    r, f, m = scores
    fm = (f + m) // 2
    return _RFM_GRID[r - 1, fm - 1]


# --------------------------------------------------------------------------------------------------
# Profiles and names


def profile(features: pd.DataFrame, labels: np.ndarray, *, currency: str = "£") -> list[dict]:
    """One profile per label in original units: size, share, revenue share, mean, median, percentile.

    "percentile" is where the segment's median sits among all customers (0-100, ties count half):
    a scale-free "how unusual is this segment" that name_segments uses. The noise label (-1) comes
    last with "noise": True. Values are plain floats (NaN -> None) so the list stores as JSON.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(features):
        raise ClusteringError(f"{len(labels)} labels for {len(features)} customers")
    if len(features) == 0:
        return []
    numeric = [
        name for name in features.columns
        if pd.api.types.is_numeric_dtype(features[name].dtype) or pd.api.types.is_bool_dtype(features[name].dtype)
    ]
    data = pd.DataFrame(
        {name: features[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in numeric}, index=None
    )
    grouped = data.groupby(labels, sort=True)
    means, medians, sizes = grouped.mean(), grouped.median(), grouped.size()
    population_median = data.median()
    integer_columns = [name for name in numeric if np.allclose(data[name].dropna() % 1, 0)]
    order = [label for label in sizes.index if label >= 0] + [label for label in sizes.index if label < 0]
    percentiles = {name: _percentiles(data[name].to_numpy(), medians[name].to_numpy()) for name in numeric}
    position = {label: i for i, label in enumerate(sizes.index)}
    revenue = None
    if "monetary" in data.columns:
        revenue_by_label = grouped["monetary"].sum()
        total = float(data["monetary"].sum())
        revenue = {label: float(revenue_by_label[label]) / total if total > 0 else None for label in sizes.index}

    n = len(features)
    profiles = []
    for label in order:
        item = {
            "label": int(label),
            "size": int(sizes[label]),
            "share": round(int(sizes[label]) / n, 4),
            "revenue_share": _clean(revenue[label]) if revenue else None,
            "mean": {name: _clean(means.at[label, name]) for name in numeric},
            "median": {name: _clean(medians.at[label, name]) for name in numeric},
            "percentile": {name: _clean(percentiles[name][position[label]], 1) for name in numeric},
            "population_median": {name: _clean(population_median[name]) for name in numeric},
            "integer_columns": integer_columns,
            "noise": bool(label < 0),
        }
        item["description"] = _describe(item, currency=currency)
        profiles.append(item)
    return profiles


def _percentiles(column: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0-100) of each point among the column's values, NaN ignored."""
    column = column[~np.isnan(column)]
    if column.size == 0:
        return np.full(len(points), np.nan)
    column = np.sort(column)
    below = np.searchsorted(column, points, side="left")
    upto = np.searchsorted(column, points, side="right")
    result = 100.0 * (below + upto) / (2 * column.size)
    return np.where(np.isnan(points), np.nan, result)


def _clean(value, digits: int = 4):
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "unknown"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _money(value: float, currency: str) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.0f}"


def _comparison(percentile: float | None) -> str:
    if percentile is None:
        return "about the same as"
    for floor, words in ((80, "far more than"), (60, "more than"), (40, "about the same as"), (20, "less than")):
        if percentile >= floor:
            return words
    return "far less than"


def _describe(item: dict, *, currency: str) -> str:
    median, percentile, population = item["median"], item["percentile"], item["population_median"]
    prefix = "Unusual customers who fit no segment. " if item["noise"] else ""
    if all(name in median for name in RFM_COLUMNS):
        frequency = median["frequency"] or 0
        if frequency <= 0:
            return prefix + "Has not ordered yet."
        days = None if median["recency_days"] is None else round(median["recency_days"])
        when = "today" if days == 0 else f"{_fmt(days)} day{'s' if days != 1 else ''} ago"
        orders = f"{_fmt(frequency)} order{'s' if frequency != 1 else ''}"
        spend = median["monetary"]
        return (
            f"{prefix}Bought {when} on median, {orders}, spends {_money(spend, currency)} - "
            f"{_comparison(percentile['monetary'])} the typical customer ({_money(population['monetary'], currency)})."
        )
    distinctive = _distinctive(item, limit=3)
    if not distinctive:
        return prefix + "Close to the typical customer on every feature."
    parts = [
        f"{_level_word(item, name, capital=i == 0)} {name}: {_fmt(median[name])} against {_fmt(population[name])} typical"
        for i, name in enumerate(distinctive)
    ]
    return prefix + "; ".join(parts) + "."


def _distinctive(item: dict, *, limit: int, threshold: float = 10.0) -> list[str]:
    """Feature names whose segment median sits furthest from the population's middle."""
    scored = [
        (-abs(p - 50.0), position, name)
        for position, (name, p) in enumerate(item["percentile"].items())
        if p is not None and abs(p - 50.0) >= threshold
    ]
    return [name for _, _, name in sorted(scored)[:limit]]  # ties: in the order of the feature columns


def _level_word(item: dict, name: str, *, capital: bool) -> str:
    high = item["percentile"][name] >= 50
    counts = name in item.get("integer_columns", ())
    word = ("many" if high else "few") if counts else ("high" if high else "low")
    return word.capitalize() if capital else word


def _score(percentile: float) -> int:
    return int(min(5, max(1, math.ceil(percentile / 20.0))))


def name_segments(profiles: list[dict], *, population: pd.DataFrame | None = None) -> dict[int, str]:
    """A short, unique name per label from its profile, relative to the whole population.

    With recency_days, frequency and monetary: the segment's medians are scored 1..5 by their
    percentile among all customers (recency reversed) and named with the RFM vocabulary (the
    _RFM_GRID; "New"/"Promising" for recent groups with one order; "Big spenders" for few but large
    orders, "Bargain hunters" for many small ones; "Not yet purchased"). Otherwise from the two
    most distinctive features ("High money_spent, few complains"). Two segments that would share a
    name get a qualifier from the feature that separates them most ("Champions (higher spend)",
    "Champions (lower spend)"). Noise: "Outliers".
    population (the features frame) recomputes the percentiles; without it the profiles' own are used.
    """
    profiles = [dict(item) for item in profiles]
    if population is not None:
        for item in profiles:
            item["percentile"] = {
                name: _clean(_percentiles(
                    population[name].to_numpy(dtype=np.float64, na_value=np.nan), np.array([value], dtype=np.float64)
                )[0], 1)
                for name, value in item["median"].items()
                if name in population.columns and value is not None
            }
    names: dict[int, str] = {}
    for item in profiles:
        names[item["label"]] = NOISE_NAME if item.get("noise") or item["label"] < 0 else _base_name(item)
    _disambiguate(names, {item["label"]: item for item in profiles})
    return names


def _base_name(item: dict) -> str:
    median, percentile = item["median"], item["percentile"]
    if all(percentile.get(name) is not None for name in RFM_COLUMNS):
        if (median["frequency"] or 0) <= 0:
            return NO_ORDERS_NAME
        r = _score(100.0 - percentile["recency_days"])
        f = _score(percentile["frequency"])
        m = _score(percentile["monetary"])
        # One order is the commonest count, so its percentile lands mid-pack; a recent group that
        # ordered once is new whatever the rank says.
        if median["frequency"] <= 1 and r >= 4:
            return "New" if r == 5 else "Promising"
        if r >= 3 and m - f >= 2:
            return "Big spenders"
        if r >= 3 and f - m >= 2:
            return "Bargain hunters"
        return str(_RFM_GRID[r - 1, (f + m) // 2 - 1])
    distinctive = _distinctive(item, limit=2)
    if not distinctive:
        return "Typical customers"
    return ", ".join(f"{_level_word(item, name, capital=i == 0)} {name}" for i, name in enumerate(distinctive))


_ADJECTIVES = {
    2: ("lower", "higher"),
    3: ("low", "mid", "high"),
    4: ("lowest", "low", "high", "highest"),
    5: ("lowest", "low", "mid", "high", "highest"),
}
_NOUNS = {"monetary": "spend", "frequency": "frequency", "recency_days": "recency"}
_RECENCY_WORDS = {2: ("recent", "lapsed"), 3: ("recent", "fading", "lapsed")}


def _disambiguate(names: dict[int, str], items: dict[int, dict]) -> None:
    groups: dict[str, list[int]] = {}
    for label, name in names.items():
        groups.setdefault(name, []).append(label)
    for name, labels in groups.items():
        if len(labels) < 2:
            continue
        qualifiers = _qualifiers([items[label] for label in labels])
        for label, qualifier in zip(labels, qualifiers):
            names[label] = f"{name} ({qualifier})" if qualifier else name
    # Last resort, for segments no feature tells apart: number them by size.
    seen: dict[str, int] = {}
    for label in sorted(names, key=lambda label: (label < 0, label)):
        name = names[label]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[label] = f"{name} {seen[name]}"


def _qualifiers(group: list[dict]) -> list[str | None]:
    """A word per segment from the feature whose percentiles differ most across the group."""
    candidates = [name for name in RFM_COLUMNS if name in group[0]["percentile"]]
    candidates += sorted(name for name in group[0]["percentile"] if name not in candidates)
    spread = []
    for position, name in enumerate(candidates):
        values = [item["percentile"].get(name) for item in group]
        if any(value is None for value in values) or len(set(values)) < len(values):
            continue
        spread.append((max(values) - min(values), -position, name))
    if not spread or max(spread)[0] < 5 or len(group) not in _ADJECTIVES:
        return [None] * len(group)
    name = max(spread)[2]
    ranked = sorted(range(len(group)), key=lambda i: group[i]["percentile"][name])
    words = [""] * len(group)
    if name == "recency_days" and len(group) in _RECENCY_WORDS:
        for rank, i in enumerate(ranked):
            words[i] = _RECENCY_WORDS[len(group)][rank]
        return words
    noun = _NOUNS.get(name, name)
    for rank, i in enumerate(ranked):
        words[i] = f"{_ADJECTIVES[len(group)][rank]} {noun}"
    return words


# --------------------------------------------------------------------------------------------------
# Identity across runs


def match_segments(
    previous: dict[str, np.ndarray], new_centroids: np.ndarray, *, max_distance: float = 1.0
) -> dict[int, str | None]:
    """Match each new centroid (row i = label i) to a previous segment key, or None for a new segment.

    Hungarian matching on Euclidean distance in the scaled space, so the total movement is as small
    as possible and no two clusters take one segment. A pair further apart than max_distance is no
    match. The default, 1.0, is one standard deviation (robust scaler: one IQR): a refit on the
    same customers moves a centroid by a few hundredths; a group that moved a whole spread is a
    different group. Centroids of another dimensionality mean the feature set changed: no matches.
    The caller retires previous keys that got no cluster, and compares preprocessing columns too.
    """
    new_centroids = np.asarray(new_centroids, dtype=np.float64)
    if new_centroids.ndim != 2:
        raise ClusteringError(f"new_centroids must be 2-D (clusters x features), got shape {new_centroids.shape}")
    result: dict[int, str | None] = {i: None for i in range(len(new_centroids))}
    keys = list(previous)
    if not keys or not len(new_centroids):
        return result
    old = [np.asarray(previous[key], dtype=np.float64).ravel() for key in keys]
    if any(centroid.shape != (new_centroids.shape[1],) for centroid in old):
        return result
    old = np.vstack(old)
    distances = np.sqrt(((new_centroids[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
    # Pairs beyond reach all cost the same, larger than any allowed pair, so the assignment first
    # maximises the number of real matches and only then minimises their distance.
    too_far = distances > max_distance
    cost = np.where(too_far, max_distance * len(new_centroids) * 2 + 1.0, distances)
    for i, j in zip(*linear_sum_assignment(cost)):
        if not too_far[i, j]:
            result[int(i)] = keys[j]
    return result


def transitions(old_keys: np.ndarray, new_keys: np.ndarray) -> dict[str, dict[str, int]]:
    """{old segment key: {new segment key: customers}}; a missing old key ("" or None) is "(new)"."""
    if len(old_keys) != len(new_keys):
        raise ClusteringError(f"{len(old_keys)} old keys for {len(new_keys)} new keys")
    old = pd.Series(np.asarray(old_keys, dtype=object)).replace("", None).fillna(NO_PREVIOUS_SEGMENT).astype(str)
    new = pd.Series(np.asarray(new_keys, dtype=object)).replace("", None).fillna("(none)").astype(str)
    counts = pd.DataFrame({"old": old, "new": new}).groupby(["old", "new"], sort=True).size()
    result: dict[str, dict[str, int]] = {}
    for (old_key, new_key), count in counts.items():
        result.setdefault(old_key, {})[new_key] = int(count)
    return result


# --------------------------------------------------------------------------------------------------
# Plots


def projection(
    X: np.ndarray, labels: np.ndarray, *, n_components: int = 3, sample_size: int = 5_000, seed: int = 0
) -> dict:
    """PCA coordinates of a stratified sample for the admin scatter plot, rounded for JSON.

    Each label gets its share of sample_size but at least 50 points (or all it has), so a small
    segment still shows. Keys: x, y, z (as many as n_components), labels, index (row positions in
    X), explained_variance. Components the data cannot have (fewer features) are zeros.
    """
    if not 1 <= n_components <= 3:
        raise ClusteringError(f"n_components must be 1, 2 or 3 (x, y, z), not {n_components}")
    X = _check_matrix(X)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(X):
        raise ClusteringError(f"{len(labels)} labels for {len(X)} rows")
    order = _sample_positions(X, None, seed) if len(X) > sample_size else np.arange(len(X))
    values, counts = np.unique(labels, return_counts=True)
    quota = np.minimum(counts, np.maximum(np.round(sample_size * counts / len(X)), 50)).astype(np.int64)
    ordered_labels = labels[order]
    by_label = np.argsort(ordered_labels, kind="stable")
    starts = np.searchsorted(ordered_labels[by_label], values)
    rank = np.empty(len(order), dtype=np.int64)
    rank[by_label] = np.arange(len(order)) - np.repeat(starts, counts)
    code = np.searchsorted(values, ordered_labels)
    rows = np.sort(order[rank < quota[code]])

    sample = X[rows]
    fitted = min(n_components, sample.shape[1], len(sample))
    pca = PCA(n_components=fitted, random_state=seed).fit(sample)
    coordinates = np.zeros((len(sample), n_components))
    coordinates[:, :fitted] = pca.transform(sample)
    explained = np.zeros(n_components)
    explained[:fitted] = pca.explained_variance_ratio_
    result = {axis: np.round(coordinates[:, i], 4).tolist() for i, axis in enumerate("xyz"[:n_components])}
    result.update(
        labels=labels[rows].tolist(),
        index=rows.tolist(),
        explained_variance=np.round(explained, 4).tolist(),
    )
    return result
