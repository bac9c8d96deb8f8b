"""evaluation.py: the metrics against scikit-learn's. No database, no Django."""

import json

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segments import clustering

from .conftest import blobs


def test_evaluate_matches_sklearn_on_a_sample_that_covers_everyone():
    X, y = blobs(n=1_500, centres=3, seed=10, std=2.0)

    metrics = clustering.evaluate(X, y)

    assert metrics["silhouette"] == pytest.approx(silhouette_score(X, y), abs=1e-4)
    assert metrics["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, y), abs=1e-4)
    assert metrics["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, y), abs=0.01)
    assert metrics["sizes"] == {0: 500, 1: 500, 2: 500}
    json.dumps(metrics)


def test_evaluate_leaves_noise_out_of_the_metrics():
    X, y = blobs(n=900, centres=3, seed=11)
    labels = y.copy()
    labels[:30] = -1

    metrics = clustering.evaluate(X, labels)

    kept = labels >= 0
    assert metrics["silhouette"] == pytest.approx(silhouette_score(X[kept], labels[kept]), abs=1e-4)
    assert metrics["sizes"][-1] == 30 and metrics["noise_share"] == round(30 / 900, 4)


def test_evaluate_reports_why_one_cluster_has_no_metrics():
    metrics = clustering.evaluate(np.random.default_rng(0).normal(size=(50, 2)), np.zeros(50, dtype=int))

    assert metrics["silhouette"] is None and metrics["davies_bouldin"] is None
    assert "only 1 cluster" in metrics["reason"]
    assert metrics["sizes"] == {0: 50}


def test_evaluate_samples_large_data():
    X, y = blobs(n=5_000, centres=4, seed=12)

    metrics = clustering.evaluate(X, y, sample_size=1_000)

    assert metrics["sample_size"] == 1_000
    assert metrics["silhouette"] == pytest.approx(silhouette_score(X, y), abs=0.03)
