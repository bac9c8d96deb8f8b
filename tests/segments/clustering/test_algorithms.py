"""algorithms.py: the one table of algorithms, and fit() taking its options from it. No database, no Django."""

import numpy as np
import pytest

from segments import clustering
from segments.clustering.fitting import _FITTERS

from .conftest import blobs

FITTED = [name for name, spec in clustering.ALGORITHMS.items() if spec.uses_ml]


def test_the_table_says_what_each_algorithm_needs_and_gives():
    table = clustering.ALGORITHMS

    assert list(table) == ["kmeans", "minibatch", "gmm", "agglomerative", "hdbscan", "rfm"]
    assert [name for name, spec in table.items() if spec.needs_k] == ["kmeans", "minibatch", "gmm", "agglomerative"]
    assert [name for name, spec in table.items() if spec.has_centroids] == [
        "kmeans", "minibatch", "gmm", "agglomerative"
    ]
    assert [name for name, spec in table.items() if spec.finds_noise] == ["hdbscan"]
    assert FITTED == ["kmeans", "minibatch", "gmm", "agglomerative", "hdbscan"]
    assert table["rfm"].label == "Classic RFM segments (no machine learning)"


def test_the_table_cannot_be_changed_by_a_caller():
    with pytest.raises(TypeError):
        clustering.ALGORITHMS["kmeans"] = clustering.ALGORITHMS["gmm"]
    with pytest.raises(AttributeError):
        clustering.ALGORITHMS["kmeans"].needs_k = False


def test_fit_has_a_fitter_for_every_algorithm_that_is_fitted():
    assert sorted(_FITTERS) == sorted(FITTED)


@pytest.mark.parametrize("algorithm", FITTED)
def test_passing_the_tables_defaults_changes_nothing(algorithm):
    X, _ = blobs(n=600, centres=3, seed=1)
    options = dict(clustering.ALGORITHMS[algorithm].options)

    default = clustering.fit(X, algorithm=algorithm, k=3)
    explicit = clustering.fit(X, algorithm=algorithm, k=3, **options)

    np.testing.assert_array_equal(explicit.labels, default.labels)
    assert explicit.params == default.params
