"""k_choice.py: the number of segments from the elbow and the silhouette. No database, no Django."""

import json

import numpy as np
import pandas as pd
import pytest

from segments import clustering
from segments.clustering import ClusteringError

from .conftest import blobs


@pytest.mark.parametrize("centres", [3, 5])
def test_choose_k_finds_the_number_of_groups(centres):
    X, _ = blobs(n=3_000, centres=centres, seed=centres)

    choice = clustering.choose_k(X)

    assert choice.k == centres
    assert [c["k"] for c in choice.candidates] == list(range(2, 13))
    assert all(c["inertia"] > 0 and -1 <= c["silhouette"] <= 1 for c in choice.candidates)
    assert choice.best_silhouette == centres
    assert choice.reason.startswith(f"K={centres}:")
    json.dumps(choice.candidates)


def test_choose_k_takes_the_knee_only_when_its_silhouette_is_close_to_the_best():
    # Long-tailed shop data: the elbow sits at a larger K than the silhouette likes.
    rng = np.random.default_rng(3)
    frequency = rng.geometric(0.3, 6_000)
    frame = pd.DataFrame(
        {
            "recency_days": rng.exponential(120, 6_000),
            "frequency": frequency,
            "monetary": frequency * rng.lognormal(3.5, 0.8, 6_000),
        }
    )
    X = clustering.preprocess(frame).X
    lenient = clustering.choose_k(X, tolerance=1.0)
    strict = clustering.choose_k(X, tolerance=0.0)
    assert (lenient.knee, lenient.best_silhouette) == (5, 2)
    assert (strict.knee, strict.best_silhouette) == (5, 2)

    assert lenient.k == lenient.knee
    assert "within 1 of the best" in lenient.reason
    assert strict.k == strict.best_silhouette
    assert "passed over" in strict.reason


def test_choose_k_tries_no_more_segments_than_customers_allow():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [9.0, 0.0], [9.1, 0.1]])

    choice = clustering.choose_k(X)

    assert [c["k"] for c in choice.candidates] == [2, 3, 4, 5]
    assert choice.k == 3


def test_choose_k_refuses_too_few_customers():
    with pytest.raises(ClusteringError, match="too few customers"):
        clustering.choose_k(np.array([[0.0], [1.0]]), k_min=2)
