"""scatter.py: the projection behind the admin's scatter plot. No database, no Django."""

import json

import numpy as np

from segments import clustering

from .conftest import blobs


def test_projection_keeps_small_segments_visible_and_stores_as_json():
    X, _ = blobs(n=20_000, centres=3, seed=17)
    labels = np.zeros(len(X), dtype=np.int64)
    labels[:100] = 1  # 0.5% of customers

    plot = clustering.projection(X, labels, sample_size=1_000)

    assert len(plot["x"]) == len(plot["y"]) == len(plot["z"]) == len(plot["labels"]) == len(plot["index"])
    assert 1_000 <= len(plot["labels"]) <= 1_100
    assert plot["labels"].count(1) >= 50
    assert plot["labels"] == labels[plot["index"]].tolist()
    assert len(plot["explained_variance"]) == 3 and sum(plot["explained_variance"]) <= 1.0
    assert all(value == round(value, 4) for value in plot["x"][:50])
    json.dumps(plot)
