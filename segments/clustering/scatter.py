"""The admin's scatter plot: PCA coordinates of a stratified sample of the customers."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from .matrix import check_labels, check_matrix
from .sampling import sample_positions


_AXES = ("x", "y", "z")


def projection(X: np.ndarray, labels: np.ndarray, *, sample_size: int = 5_000, seed: int = 0) -> dict:
    """PCA coordinates of a stratified sample for the admin scatter plot, rounded for JSON.

    Each label gets its share of sample_size but at least 50 points (or all it has), so a small
    segment still shows. Keys: x, y, z (the first three principal components), labels, index (row
    positions in X), explained_variance. Components the data cannot have (fewer features) are zeros.
    """
    X = check_matrix(X)
    labels = check_labels(labels, len(X))
    order = sample_positions(X, None, seed) if len(X) > sample_size else np.arange(len(X))
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
    fitted = min(len(_AXES), sample.shape[1], len(sample))
    pca = PCA(n_components=fitted, random_state=seed).fit(sample)
    coordinates = np.zeros((len(sample), len(_AXES)))
    coordinates[:, :fitted] = pca.transform(sample)
    explained = np.zeros(len(_AXES))
    explained[:fitted] = pca.explained_variance_ratio_
    result = {axis: np.round(coordinates[:, i], 4).tolist() for i, axis in enumerate(_AXES)}
    result.update(
        labels=labels[rows].tolist(),
        index=rows.tolist(),
        explained_variance=np.round(explained, 4).tolist(),
    )
    return result
