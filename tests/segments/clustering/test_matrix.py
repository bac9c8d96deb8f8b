"""matrix.py: block-wise work on the customers x features matrix. No database, no Django."""

import numpy as np

from segments import clustering


def test_assign_picks_the_nearest_centroid_across_blocks():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(70_000, 3))  # more than one 65,536-row block
    centroids = rng.normal(size=(6, 3))

    labels = clustering.assign(X, centroids)

    brute = np.argmin(((X[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(labels, brute)
