"""Fitting: the scaled rows -> labels ordered by size, centroids and inertia, for each algorithm.

Every algorithm that is quadratic in the number of customers (Ward, HDBSCAN, the GMM's EM)
runs on a sample drawn by sampling.py, and the other rows are placed from it; the result is the
same for the same customers in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import KDTree
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from .algorithms import ALGORITHMS, NEEDS_K
from .errors import ClusteringError
from .matrix import CHUNK_ROWS, assign, check_matrix, label_means, label_sums, within_ss
from .sampling import hash_batches, row_hashes, sample_positions


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
    "rfm": set(),
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
    if algorithm not in ALGORITHMS:
        raise ClusteringError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if algorithm == "rfm":
        raise ClusteringError("rfm is a rule, not fitted: rfm_segments(r_score, f_score, m_score) names each customer")
    unknown = set(options) - _OPTIONS[algorithm]
    if unknown:
        raise ClusteringError(
            f"option(s) {sorted(unknown)} do not apply to {algorithm}; it takes {sorted(_OPTIONS[algorithm])}"
        )
    X = check_matrix(X)
    n = len(X)
    if algorithm in NEEDS_K:
        if k is None:
            raise ClusteringError(f"{algorithm} needs k: run choose_k first to pick it")
        if k < 1:
            raise ClusteringError(f"k must be at least 1, not {k}")
        if n < k:
            raise ClusteringError(f"too few customers for K={k}: only {n} customer(s)")
    params = {"k": k, "seed": seed, "threads": threads}
    hashes = row_hashes(X, seed)
    positions = sample_positions(X, sample_size, seed, hashes)

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
                for rows in hash_batches(hashes, batch_size):
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
            raw = np.concatenate([model.predict(X[s : s + CHUNK_ROWS * 4]) for s in range(0, n, CHUNK_ROWS * 4)])
        params.update(
            sample_size=size, covariance_type=covariance_type, n_init=n_init, max_iter=max_iter,
            converged=bool(model.converged_),
        )
    elif algorithm == "agglomerative":
        size = min(len(positions), options.get("agglomerative_sample", 5_000))
        linkage = options.get("linkage", "ward")
        sampled = positions[:size]
        if size < k:
            raise ClusteringError(f"agglomerative_sample ({size}) is smaller than K={k}")
        sample_labels = AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(X[sampled])
        raw = assign(X, label_means(X[sampled], sample_labels, k))
        raw[sampled] = sample_labels
        params.update(sample_size=size, linkage=linkage)
    elif algorithm == "hdbscan":
        size = min(len(positions), options.get("hdbscan_sample", 10_000))
        min_cluster_size = options.get("min_cluster_size", max(5, round(size * 0.01)))
        min_samples = options.get("min_samples")
        if size < 2 or size < min_cluster_size:
            raise ClusteringError(f"too few customers for HDBSCAN: {size}, with min_cluster_size={min_cluster_size}")
        sampled = positions[:size]
        sample = X[sampled]
        sample_labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(sample)
        if (sample_labels < 0).all():
            raise ClusteringError(
                f"HDBSCAN found only noise in {size} customers: try a smaller min_cluster_size (was {min_cluster_size})"
            )
        # scipy's KDTree answers a million 1-NN queries 4x faster than sklearn's NearestNeighbors
        # (1.4 s against 5.3 s for 1M against 10k rows in 5 dimensions on 2 cores): same exact answer.
        _, nearest = KDTree(sample).query(X, k=1, workers=-1)
        raw = sample_labels[nearest].astype(np.int64)
        raw[sampled] = sample_labels
        params = {"k_requested": k, "seed": seed, "threads": threads, "sample_size": size, "min_cluster_size": min_cluster_size,
                  "min_samples": min_samples}
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
