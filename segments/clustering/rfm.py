"""The classic rule-based RFM segments: eleven names on the R x FM grid of quintile scores."""

from __future__ import annotations

import numpy as np

from .errors import ClusteringError

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
RFM_GRID = np.array(
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

# The features a profile must have to be described and named in RFM words.
RFM_COLUMNS = ("recency_days", "frequency", "monetary")


def rfm_segments(r_score: np.ndarray, f_score: np.ndarray, m_score: np.ndarray) -> np.ndarray:
    """The classic RFM segment name for each customer from scores 1..5 (5 = best), see RFM_GRID."""
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
    return RFM_GRID[r - 1, fm - 1]
