"""fitting.py: every algorithm on separated blobs, row order, and the errors. No database, no Django."""

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segments import clustering, features
from segments.clustering import ClusteringError

from .conftest import blobs


@pytest.mark.parametrize("algorithm", [name for name, spec in clustering.ALGORITHMS.items() if spec.needs_k])
def test_every_k_algorithm_recovers_the_groups(algorithm):
    X, y = blobs(n=3_000, centres=4, seed=4)

    result = clustering.fit(X, algorithm=algorithm, k=4)

    assert adjusted_rand_score(y, result.labels) > 0.9
    assert result.labels.dtype == np.int64
    assert result.n_clusters == 4 and result.centroids.shape == (4, 4) and not result.noise
    sizes = np.bincount(result.labels)
    assert list(sizes) == sorted(sizes, reverse=True)  # label 0 is the largest segment
    for label in range(4):
        np.testing.assert_allclose(result.centroids[label], X[result.labels == label].mean(axis=0))
    json.dumps(result.params)


def test_samples_are_used_for_the_quadratic_algorithms_and_the_rest_assigned():
    X, y = blobs(n=6_000, centres=4, seed=5)

    result = clustering.fit(X, algorithm="agglomerative", k=4, agglomerative_sample=500)

    assert result.params["sample_size"] == 500
    assert adjusted_rand_score(y, result.labels) > 0.9


def test_hdbscan_finds_the_groups_and_keeps_noise_as_its_own_segment():
    X, y = blobs(n=3_000, centres=4, seed=6)
    scattered = np.random.default_rng(6).uniform(-30, 40, size=(60, 4))
    X, y = np.vstack([X, scattered]), np.concatenate([y, np.full(60, -1)])

    result = clustering.fit(X, algorithm="hdbscan")

    assert result.n_clusters == 4 and result.noise
    clustered = result.labels >= 0
    assert adjusted_rand_score(y[clustered & (y >= 0)], result.labels[clustered & (y >= 0)]) > 0.95
    assert (result.labels[-60:] == -1).mean() > 0.8  # the scattered points are noise
    assert result.centroids.shape == (5, 4)
    np.testing.assert_allclose(result.centroids[-1], X[result.labels == -1].mean(axis=0))


@pytest.mark.parametrize("algorithm", [name for name, spec in clustering.ALGORITHMS.items() if spec.uses_ml])
def test_the_same_customers_in_any_order_get_the_same_segments(algorithm):
    X, _ = blobs(n=3_000, centres=4, seed=7, std=1.5)
    shuffle = np.random.default_rng(7).permutation(len(X))

    first = clustering.fit(X, algorithm=algorithm, k=4, sample_size=1_000, seed=3)
    again = clustering.fit(X, algorithm=algorithm, k=4, sample_size=1_000, seed=3)
    shuffled = clustering.fit(X[shuffle], algorithm=algorithm, k=4, sample_size=1_000, seed=3)

    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.labels[shuffle], shuffled.labels)


def test_fit_sends_the_rule_based_rfm_to_rfm_segments():
    with pytest.raises(ClusteringError, match="rfm is a rule, not fitted: rfm_segments"):
        clustering.fit(np.zeros((10, 2)), algorithm="rfm")


def test_fit_needs_k_for_k_algorithms():
    with pytest.raises(ClusteringError, match="needs k"):
        clustering.fit(np.zeros((10, 2)), algorithm="gmm")


def test_fit_refuses_too_few_customers_for_k():
    with pytest.raises(ClusteringError, match="too few customers for K=5"):
        clustering.fit(np.arange(6.0).reshape(3, 2), k=5)


def test_fit_refuses_an_option_the_algorithm_does_not_take():
    with pytest.raises(ClusteringError, match="batch_sise"):
        clustering.fit(np.arange(20.0).reshape(10, 2), algorithm="minibatch", k=2, batch_sise=100)



def _one_vip_shop() -> np.ndarray:
    """The matrix a run clusters for tests/segments/conftest.py's make_shop with one VIP, 60
    lapsed customers and 60 newcomers (the same draws), without a database."""
    rng = np.random.default_rng(0)
    now = pd.Timestamp("2026-06-30 12:00", tz="UTC")
    orders = []
    for n, group in enumerate(["vip"] + ["lapsed"] * 60 + ["new"] * 60, start=1):
        if group == "vip":
            days = np.sort(rng.integers(1, 150, size=rng.integers(12, 16)))
            amounts = rng.normal(200, 20, size=len(days))
        elif group == "lapsed":
            days = rng.integers(330, 400, size=rng.integers(1, 3))
            amounts = rng.normal(30, 5, size=len(days))
        else:
            days = rng.integers(1, 21, size=1)
            amounts = rng.normal(50, 5, size=1)
        orders += [(n, now - pd.Timedelta(days=int(d)), float(Decimal(f"{a:.2f}")), 2, False) for d, a in zip(days, amounts)]
    stats = features.order_stats(pd.DataFrame(orders, columns=features.ORDER_COLUMNS))
    stats["monetary"] = stats["monetary"].round(2)  # to the cent, as segments.frames reads it
    frame = features.build_features(stats, as_of=now.date())
    return clustering.preprocess(frame[["recency_days", "frequency", "monetary"]]).X


def test_kmeans_finds_a_small_shops_lone_vip_whatever_the_seed():
    # Four k-means++ restarts missed this partition for about one seed in five: the VIP merged
    # into the newcomers and the lapsed were split in two, a much worse fit.
    X = _one_vip_shop()

    sizes = [np.bincount(clustering.fit(X, algorithm="kmeans", k=3, seed=seed).labels).tolist() for seed in range(40)]

    assert sizes == [[60, 60, 1]] * 40
