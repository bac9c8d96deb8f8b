"""The customers x features matrix, walked in bounded row blocks: the input check, distances,
per-label sums and centroids, the within-cluster sum of squares, nearest-centroid assignment.

Nothing here builds an n x n matrix: a step over all customers takes CHUNK_ROWS rows at a time.
"""

from __future__ import annotations

import numpy as np

from .errors import ClusteringError

# Rows per block when a step walks all customers: bounded memory (a 65,536 x 12 float block is 6 MB)
# and large enough that the per-block Python overhead disappears.
CHUNK_ROWS = 65_536


def check_matrix(X: np.ndarray) -> np.ndarray:
    """X as a contiguous float64 2-D array with at least one row and column and finite values."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ClusteringError(f"expected a 2-D array of customers x features, got shape {X.shape}")
    if len(X) == 0 or X.shape[1] == 0:
        raise ClusteringError(f"nothing to cluster: {X.shape[0]} customer(s) x {X.shape[1]} feature(s)")
    if not np.isfinite(X).all():
        raise ClusteringError("the feature matrix has missing or infinite values: preprocess it first")
    return X


def check_labels(labels: np.ndarray, rows: int, what: str = "rows") -> np.ndarray:
    """labels as int64, one per row."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != rows:
        raise ClusteringError(f"{len(labels)} labels for {rows} {what}")
    return labels


def row_distances(X: np.ndarray, start: int, stop: int, sq_norms: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Euclidean distances from rows start:stop of X to all rows (self-distance exactly 0)."""
    result = sq_norms[start:stop, None] + sq_norms[None, :] - 2.0 * (X[start:stop] @ X.T)
    np.maximum(result, 0.0, out=result)
    np.sqrt(result, out=result)
    result[np.arange(stop - start), np.arange(start, stop)] = 0.0
    return result.astype(dtype, copy=False)


def label_sums(X: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Per-label column sums; codes -1 are skipped (no copy of X)."""
    shifted = codes + 1
    return np.column_stack(
        [np.bincount(shifted, weights=X[:, j], minlength=n_labels + 1)[1:] for j in range(X.shape[1])]
    ).reshape(n_labels, X.shape[1])


def label_means(X: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Mean row of each label 0..n_labels-1 (a label without rows: zeros)."""
    counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
    return label_sums(X, labels, n_labels) / np.maximum(counts, 1)[:, None]


def within_ss(X: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    """Sum of squared distances of each row to its label's centroid; rows labelled -1 are skipped."""
    total = 0.0
    for start in range(0, len(X), CHUNK_ROWS):
        block, block_labels = X[start : start + CHUNK_ROWS], labels[start : start + CHUNK_ROWS]
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
    for start in range(0, len(X), CHUNK_ROWS):
        block = X[start : start + CHUNK_ROWS]
        labels[start : start + len(block)] = np.argmin(centroid_norms - 2.0 * block @ centroids.T, axis=1)
    return labels
