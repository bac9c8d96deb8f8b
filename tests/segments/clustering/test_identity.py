"""identity.py: segments matched across runs, and transitions. No database, no Django."""

import numpy as np

from segments import clustering

from .conftest import blobs


def _keys_by_group(result, y):
    return {int(np.bincount(y[result.labels == label]).argmax()): label for label in range(result.n_clusters)}


def test_a_refit_on_shuffled_data_with_new_customers_keeps_every_segment():
    X, y = blobs(n=2_000, centres=4, seed=13, std=1.5)
    prepared_first = clustering.fit(X, k=4)
    previous = {f"segment-{group}": prepared_first.centroids[label] for group, label in _keys_by_group(prepared_first, y).items()}
    extra, extra_y = blobs(n=200, centres=4, seed=14, std=1.5)
    shuffle = np.random.default_rng(13).permutation(2_200)
    X2, y2 = np.vstack([X, extra])[shuffle], np.concatenate([y, extra_y])[shuffle]

    refit = clustering.fit(X2, k=4, seed=99)
    matches = clustering.match_segments(previous, refit.centroids)

    assert matches == {label: f"segment-{group}" for group, label in _keys_by_group(refit, y2).items()}


def test_a_genuinely_new_group_gets_no_previous_segment():
    X, y = blobs(n=2_000, centres=4, seed=15)
    first = clustering.fit(X, k=4)
    previous = {f"segment-{label}": centroid for label, centroid in enumerate(first.centroids)}
    X5, y5 = blobs(n=2_500, centres=5, seed=16)

    refit = clustering.fit(X5, k=5)
    matches = clustering.match_segments(previous, refit.centroids)

    new_group_label = _keys_by_group(refit, y5)[4]
    assert matches[new_group_label] is None
    assert sorted(key for key in matches.values() if key) == sorted(previous)


def test_segments_further_apart_than_max_distance_do_not_match():
    previous = {"a": np.array([0.0, 0.0]), "b": np.array([5.0, 5.0])}
    new = np.array([[0.3, 0.0], [5.0, 6.5]])

    assert clustering.match_segments(previous, new) == {0: "a", 1: None}
    assert clustering.match_segments(previous, new, max_distance=2.0) == {0: "a", 1: "b"}


def test_matching_prefers_more_matches_over_a_shorter_total_distance():
    # Pairing new 0 with "a" (0.5) leaves new 1 too far from "b"; pairing 0-b and 1-a matches both.
    previous = {"a": np.array([0.0]), "b": np.array([0.9])}
    new = np.array([[0.5], [-0.8]])

    assert clustering.match_segments(previous, new) == {0: "b", 1: "a"}


def test_a_changed_feature_set_matches_nothing():
    previous = {"a": [0.0, 0.0, 0.0], "b": [1.0, 1.0, 1.0]}

    assert clustering.match_segments(previous, np.zeros((2, 2))) == {0: None, 1: None}


def test_transitions_count_customers_by_old_and_new_segment():
    old = np.array(["champions", "champions", "lost", None, "", "lost"], dtype=object)
    new = np.array(["champions", "at-risk", "lost", "new", "new", "lost"], dtype=object)

    assert clustering.transitions(old, new) == {
        "(new)": {"new": 2},
        "champions": {"at-risk": 1, "champions": 1},
        "lost": {"lost": 2},
    }
