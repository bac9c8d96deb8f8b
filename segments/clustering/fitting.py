"""Fitting: the scaled rows -> labels ordered by size, centroids and inertia, for each algorithm.

The costly steps (k-means++ restarts, the GMM's EM, Ward and HDBSCAN, the last two quadratic in
the customers) run on a sample drawn by sampling.py, and the other rows are placed from it; the
result is the same for the same customers in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import KDTree
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from .algorithms import ALGORITHMS
from .errors import ClusteringError
from .matrix import CHUNK_ROWS, assign, check_matrix, label_means, label_sums, within_ss
from .sampling import hash_batches, row_hashes, sample_positions


# k-means++ restarts cost n_init passes over the sample, so on a small one they are cheap, and
# four miss the best partition of a small shop often: with one VIP among 120 customers, 13 seeds
# in 60 merged him into a group and split another (inertia 122 against 82); ten restarts missed
# none. A sample up to SMALL_SAMPLE rows gets at least SMALL_SAMPLE_RESTARTS: less work than
# four restarts on a full 50,000-row sample.
SMALL_SAMPLE = 10_000
SMALL_SAMPLE_RESTARTS = 10


@dataclass
class ClusterResult:
    labels: np.ndarray
    centroids: np.ndarray
    n_clusters: int
    algorithm: str
    params: dict
    inertia: float | None
    noise: bool = False


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
      rows in batches of 16,384 (see the measurements in algorithms.py), rows assigned to the nearest
      centroid.
    - gmm: GaussianMixture on a sample (gmm_sample, default 20,000), every row predicted.
    - agglomerative: Ward on a sample (agglomerative_sample, default 5,000: Ward is O(n^2) in
      memory and time), other rows assigned to the nearest sample-cluster centroid.
    - hdbscan: HDBSCAN on a sample (hdbscan_sample, default 10,000; min_cluster_size default 1% of
      it), other rows take the label of their nearest sample row; noise is label -1 and its mean is
      the last centroid row (noise=True). k is not used: HDBSCAN finds the number itself.
    - rfm is a rule, not fitted: rfm_segments gives each customer its segment.

    Same X (in any row order) and seed give the same partition and labels.

    threads caps the OpenMP/BLAS threads of the fit (None: all cores). One is the default: with the
    database and other work sharing 2 cores, OpenMP threads spin-wait for each other and k-means on
    1M x 5 took 2.1-5.0 s with two threads against 0.9 s with one (and less CPU time), measured
    with other processes busy. On an idle machine two threads save ~30%.
    """
    with threadpool_limits(limits=threads):
        return _fit(X, algorithm=algorithm, k=k, seed=seed, sample_size=sample_size, threads=threads, **options)


def _fit(X, *, algorithm, k, seed, sample_size, threads, **options) -> ClusterResult:
    spec = ALGORITHMS.get(algorithm)
    if spec is None:
        raise ClusteringError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if not spec.uses_ml:
        raise ClusteringError(
            f"{algorithm} is a rule, not fitted: rfm_segments(r_score, f_score, m_score) names each customer"
        )
    unknown = set(options) - set(spec.options)
    if unknown:
        raise ClusteringError(
            f"option(s) {sorted(unknown)} do not apply to {algorithm}; it takes {sorted(spec.options)}"
        )
    X = check_matrix(X)
    n = len(X)
    if spec.needs_k:
        if k is None:
            raise ClusteringError(f"{algorithm} needs k: run choose_k first to pick it")
        if k < 1:
            raise ClusteringError(f"k must be at least 1, not {k}")
        if n < k:
            raise ClusteringError(f"too few customers for K={k}: only {n} customer(s)")
    hashes = row_hashes(X, seed)
    rows = _Rows(X=X, hashes=hashes, sample=sample_positions(X, sample_size, seed, hashes))
    raw, details = _FITTERS[algorithm](rows, k=k, seed=seed, **{**spec.options, **options})
    # An algorithm that finds the number of segments itself only records the K it was offered.
    params = {"k" if spec.needs_k else "k_requested": k, "seed": seed, "threads": threads, **details}
    return _relabel_by_size(X, raw, algorithm=algorithm, params=params)


@dataclass(frozen=True)
class _Rows:
    X: np.ndarray
    hashes: np.ndarray  # row_hashes(X, seed): what makes samples and batches ignore row order
    sample: np.ndarray  # positions of up to sample_size rows, in hash order

    def head(self, size: int) -> np.ndarray:
        """Positions of the first `size` rows of the sample (all of it when smaller): a smaller
        sample for a step that is quadratic in its rows, still independent of row order."""
        return self.sample[:size]


def _seed_centroids(rows: _Rows, *, k: int, seed: int, n_init: int) -> tuple[KMeans, dict]:
    """k-means++ with n_init restarts on the sample: where kmeans and minibatch start from."""
    sample = rows.X[rows.sample]
    distinct = len(np.unique(sample, axis=0))
    if distinct < k:
        raise ClusteringError(f"too few distinct customers for K={k}: only {distinct} different feature rows")
    if len(sample) <= SMALL_SAMPLE:
        n_init = max(n_init, SMALL_SAMPLE_RESTARTS)
    seeded = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(sample)
    return seeded, {"n_init": n_init, "sample_size": len(sample)}


def _kmeans(rows: _Rows, *, k: int, seed: int, n_init: int, max_iter: int) -> tuple[np.ndarray, dict]:
    seeded, details = _seed_centroids(rows, k=k, seed=seed, n_init=n_init)
    if len(rows.sample) == len(rows.X):
        raw = np.empty(len(rows.X), dtype=np.int64)
        raw[rows.sample] = seeded.labels_
        return raw, details
    full = KMeans(n_clusters=k, init=seeded.cluster_centers_, n_init=1, max_iter=max_iter).fit(rows.X)
    return full.labels_, {**details, "max_iter": max_iter, "full_iterations": int(full.n_iter_)}


def _minibatch(rows: _Rows, *, k: int, seed: int, n_init: int, batch_size: int, epochs: int) -> tuple[np.ndarray, dict]:
    seeded, details = _seed_centroids(rows, k=k, seed=seed, n_init=n_init)
    model = MiniBatchKMeans(
        n_clusters=k, init=seeded.cluster_centers_, n_init=1, batch_size=batch_size, random_state=seed,
        compute_labels=False,
    )
    for _ in range(epochs):
        for batch in hash_batches(rows.hashes, batch_size):
            model.partial_fit(rows.X[batch])
    return assign(rows.X, model.cluster_centers_), {**details, "batch_size": batch_size, "epochs": epochs}


def _gmm(
    rows: _Rows, *, k: int, seed: int, covariance_type: str, gmm_sample: int, n_init: int, max_iter: int
) -> tuple[np.ndarray, dict]:
    X = rows.X
    sample = X[rows.head(gmm_sample)]
    size = len(sample)
    # GMM's many small matrix products run 3x slower with two BLAS threads than with one
    # (3.1 s against 10.6 s for 20k x 5, K=8 on 2 cores): the threads fight over tiny blocks.
    with threadpool_limits(limits=1, user_api="blas"):  # even when threads > 1
        model = GaussianMixture(
            n_components=k, covariance_type=covariance_type, n_init=n_init, max_iter=max_iter, random_state=seed
        ).fit(sample)
        raw = np.concatenate([model.predict(X[s : s + CHUNK_ROWS * 4]) for s in range(0, len(X), CHUNK_ROWS * 4)])
    details = {
        "sample_size": size, "covariance_type": covariance_type, "n_init": n_init, "max_iter": max_iter,
        "converged": bool(model.converged_),
    }
    return raw, details


def _agglomerative(
    rows: _Rows, *, k: int, seed: int, agglomerative_sample: int, linkage: str
) -> tuple[np.ndarray, dict]:
    sampled = rows.head(agglomerative_sample)
    size = len(sampled)
    if size < k:
        raise ClusteringError(f"agglomerative_sample ({size}) is smaller than K={k}")
    sample_labels = AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(rows.X[sampled])
    raw = assign(rows.X, label_means(rows.X[sampled], sample_labels, k))
    raw[sampled] = sample_labels
    return raw, {"sample_size": size, "linkage": linkage}


def _hdbscan(
    rows: _Rows, *, k: int | None, seed: int, hdbscan_sample: int, min_cluster_size: int | None, min_samples: int | None
) -> tuple[np.ndarray, dict]:
    sampled = rows.head(hdbscan_sample)
    size = len(sampled)
    if min_cluster_size is None:
        min_cluster_size = max(5, round(size * 0.01))
    if size < 2 or size < min_cluster_size:
        raise ClusteringError(f"too few customers for HDBSCAN: {size}, with min_cluster_size={min_cluster_size}")
    sample = rows.X[sampled]
    sample_labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(sample)
    if (sample_labels < 0).all():
        raise ClusteringError(
            f"HDBSCAN found only noise in {size} customers: try a smaller min_cluster_size (was {min_cluster_size})"
        )
    # scipy's KDTree answers a million 1-NN queries 4x faster than sklearn's NearestNeighbors
    # (1.4 s against 5.3 s for 1M against 10k rows in 5 dimensions on 2 cores): same exact answer.
    _, nearest = KDTree(sample).query(rows.X, k=1, workers=-1)
    raw = sample_labels[nearest].astype(np.int64)
    raw[sampled] = sample_labels
    return raw, {"sample_size": size, "min_cluster_size": min_cluster_size, "min_samples": min_samples}


# Every algorithm of the table that uses_ml, by name. Each takes the rows, k and seed, used or not
# (Ward and HDBSCAN draw nothing at random; HDBSCAN finds the number of segments itself), and its
# options from the table; it returns the raw labels and what to record in params.
_FITTERS = {
    "kmeans": _kmeans,
    "minibatch": _minibatch,
    "gmm": _gmm,
    "agglomerative": _agglomerative,
    "hdbscan": _hdbscan,
}


def _relabel_by_size(X: np.ndarray, raw: np.ndarray, *, algorithm: str, params: dict) -> ClusterResult:
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
    centroids = label_sums(X, codes, len(present)) / counts[:, None]
    keys = tuple(centroids[:, j] for j in reversed(range(X.shape[1]))) + (-counts,)
    order = np.lexsort(keys)
    new_of_old = np.empty(len(present), dtype=np.int64)
    new_of_old[order] = np.arange(len(present))
    labels = np.where(clustered, new_of_old[np.maximum(codes, 0)], -1)
    centroids = centroids[order]
    noise = bool((~clustered).any())
    inertia = within_ss(X, labels, centroids)
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
