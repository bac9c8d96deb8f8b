"""How good a partition is: silhouette, Davies-Bouldin and Calinski-Harabasz on a bounded sample."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from threadpoolctl import threadpool_limits

from .matrix import check_labels, check_matrix, row_distances
from .sampling import sample_positions


def silhouette(X: np.ndarray, labels: np.ndarray, *, distances: np.ndarray | None = None) -> float | None:
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
        block = distances[start:stop] if distances is not None else row_distances(X, start, stop, sq_norms)
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
    X = check_matrix(X)
    labels = check_labels(labels, len(X))
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
    rows = clustered[sample_positions(X[clustered], sample_size, seed)]
    sample, sample_labels = X[rows], labels[rows]
    result["sample_size"] = len(rows)
    if len(np.unique(sample_labels)) < 2:
        result["reason"] = "the sample holds one cluster only: raise sample_size"
        return result
    score = silhouette(sample, sample_labels)
    result["silhouette"] = None if score is None else round(score, 4)
    result["davies_bouldin"] = round(float(davies_bouldin_score(sample, sample_labels)), 4)
    result["calinski_harabasz"] = round(float(calinski_harabasz_score(sample, sample_labels)), 2)
    if score is None:
        result["reason"] = "silhouette undefined: as many clusters as sampled customers"
    return result
