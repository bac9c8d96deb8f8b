"""Segment identity across runs: which new cluster is which old segment, and who moved where."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .errors import ClusteringError


# In transitions: where the customers who had no segment before a run come from.
NO_PREVIOUS_SEGMENT = "(new)"

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
    """{old segment key: {new segment key: customers}}; a missing old key ("" or None) is
    NO_PREVIOUS_SEGMENT."""
    if len(old_keys) != len(new_keys):
        raise ClusteringError(f"{len(old_keys)} old keys for {len(new_keys)} new keys")
    old = pd.Series(np.asarray(old_keys, dtype=object)).replace("", None).fillna(NO_PREVIOUS_SEGMENT).astype(str)
    new = pd.Series(np.asarray(new_keys, dtype=object)).replace("", None).fillna("(none)").astype(str)
    counts = pd.DataFrame({"old": old, "new": new}).groupby(["old", "new"], sort=True).size()
    result: dict[str, dict[str, int]] = {}
    for (old_key, new_key), count in counts.items():
        result.setdefault(old_key, {})[new_key] = int(count)
    return result
