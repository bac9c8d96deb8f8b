"""scatter.py: the projection behind the admin's scatter plot. No database, no Django."""

import json

import numpy as np
from sklearn.decomposition import PCA

from segments import clustering

from .conftest import blobs


def test_projection_keeps_small_segments_visible_and_stores_as_json():
    X, _ = blobs(n=20_000, centres=3, seed=17)
    labels = np.zeros(len(X), dtype=np.int64)
    labels[:100] = 1  # 0.5% of customers

    plot = clustering.projection(X, labels, sample_size=1_000)

    assert len(plot["x"]) == len(plot["y"]) == len(plot["z"]) == len(plot["labels"]) == len(plot["index"])
    assert len(plot["labels"]) == 995 + 50  # label 0's share of 1,000, and label 1's floor of 50
    assert plot["labels"].count(1) == 50
    assert plot["labels"] == labels[plot["index"]].tolist()
    pca = PCA(n_components=3).fit(X[plot["index"]])
    assert plot["explained_variance"] == np.round(pca.explained_variance_ratio_, 4).tolist()
    assert all(value == round(value, 4) for value in plot["x"][:50])
    json.dumps(plot)
