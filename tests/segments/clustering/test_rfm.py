"""rfm.py: the classic RFM grid. No database, no Django."""

import numpy as np
import pytest

from segments import clustering
from segments.clustering import ClusteringError


def test_every_rfm_score_combination_gets_one_of_the_eleven_names():
    r, f, m = (grid.ravel() for grid in np.meshgrid(*[np.arange(1, 6)] * 3, indexing="ij"))

    names = clustering.rfm_segments(r, f, m)

    assert len(names) == 125
    assert set(names) == set(clustering.RFM_SEGMENTS)


@pytest.mark.parametrize(
    ("r", "f", "m", "name"),
    [
        (5, 5, 5, "Champions"),
        (4, 5, 5, "Champions"),
        (5, 1, 1, "New"),
        (4, 1, 1, "Promising"),
        (5, 2, 3, "Potential loyalist"),
        (3, 5, 4, "Loyal"),
        (3, 3, 3, "Need attention"),
        (3, 1, 2, "About to sleep"),
        (2, 3, 4, "At risk"),
        (1, 5, 5, "Cannot lose them"),
        (2, 1, 2, "Hibernating"),
        (1, 1, 1, "Lost"),
        (5, 5, 4, "Champions"),  # F and M average 4.5, rounded down to 4
        (4, 4, 5, "Loyal"),
    ],
)
def test_known_rfm_scores_map_to_their_segment(r, f, m, name):
    assert clustering.rfm_segments(np.array([r]), np.array([f]), np.array([m]))[0] == name


def test_rfm_scores_outside_one_to_five_are_refused():
    with pytest.raises(ClusteringError, match="f_score"):
        clustering.rfm_segments(np.array([5]), np.array([6]), np.array([5]))
