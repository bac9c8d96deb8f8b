"""segments.clustering on plain arrays and frames: no database, no Django."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segments import clustering
from segments.clustering import ClusteringError

# Far-apart centres: make_blobs' random centres sometimes overlap, and then "the right K" is moot.
CENTRES = np.array(
    [[0, 0, 0, 0], [12, 0, 0, 0], [0, 12, 0, 0], [0, 0, 12, 0], [0, 0, 0, 12], [12, 12, 12, 12]], dtype=float
)


def blobs(n=2_000, centres=4, seed=0, std=1.0):
    X, y = make_blobs(n_samples=n, centers=CENTRES[:centres], cluster_std=std, random_state=seed)
    return X, y


def shop(seed=0):
    """Four kinds of customer in original units, with the group each one was drawn from."""
    rng = np.random.default_rng(seed)
    groups = {
        # name: (customers, recency days, orders, spend per order)
        "champions": (150, (2, 20), (15, 25), (80, 120)),
        "new": (250, (1, 15), (1, 2), (20, 40)),
        "at_risk": (200, (150, 250), (6, 12), (60, 90)),
        "lost": (400, (300, 400), (1, 2), (15, 30)),
    }
    frames = []
    for name, (n, recency, orders, spend) in groups.items():
        frequency = rng.integers(orders[0], orders[1] + 1, n)
        frames.append(
            pd.DataFrame(
                {
                    "recency_days": rng.integers(recency[0], recency[1], n).astype(float),
                    "frequency": frequency,
                    "monetary": np.round(frequency * rng.uniform(spend[0], spend[1], n), 2),
                    "group": name,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame.drop(columns="group"), frame["group"].to_numpy()


# ------------------------------------------------------------------------------------------------
# preprocess / transform


def test_transform_repeats_preprocess_exactly_even_after_a_json_round_trip():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 365, 500),
            "frequency": rng.geometric(0.3, 500),
            "monetary": rng.lognormal(4, 1, 500) - 20,  # net spend: some customers returned more than they kept
            "country": rng.choice(["GB", "FR", "DE"], 500),
        }
    )
    frame.loc[[3, 17], "recency_days"] = np.nan
    prepared = clustering.preprocess(frame, categorical=["country"])
    state = json.loads(json.dumps(prepared.state))

    np.testing.assert_array_equal(clustering.transform(frame, state), prepared.X)
    assert prepared.X.dtype == np.float64
    assert prepared.columns == ["recency_days", "frequency", "monetary", "country=DE", "country=FR", "country=GB"]


def test_it_imputes_the_median_and_records_it():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 10.0], "b": [1.0, 2.0, 3.0, 4.0]})
    prepared = clustering.preprocess(frame, log1p=())

    assert prepared.state["impute"]["a"] == 3.0
    expected = (np.array([1, 3, 3, 10]) - 4.25) / np.std([1, 3, 3, 10])
    np.testing.assert_allclose(prepared.X[:, 0], expected)


def test_it_log_transforms_long_tailed_columns_and_records_which():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 365, 2_000),  # flat: left alone
            "monetary": rng.lognormal(5, 1.2, 2_000),  # long tail, never negative: log1p
            "net_spend": rng.lognormal(5, 1.2, 2_000) - 50,  # long tail with refunds: signed log
            "is_member": (rng.uniform(size=2_000) < 0.1).astype(float),  # skewed 0/1 flag: left alone
        }
    )
    prepared = clustering.preprocess(frame)

    assert prepared.state["log1p"] == ["monetary", "net_spend"]
    assert prepared.state["signed_log1p"] == ["net_spend"]
    net = frame["net_spend"].to_numpy()
    logged = np.sign(net) * np.log1p(np.abs(net))
    np.testing.assert_allclose(prepared.X[:, 2], (logged - logged.mean()) / logged.std())


def test_it_log_transforms_only_the_columns_named():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 400.0], "b": [1.0, 2.0, 3.0, 400.0]})
    prepared = clustering.preprocess(frame, log1p=["b"])

    assert prepared.state["log1p"] == ["b"]
    assert not np.allclose(prepared.X[:, 0], prepared.X[:, 1])


def test_robust_scaling_uses_median_and_interquartile_range():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0]})
    prepared = clustering.preprocess(frame, scaler="robust", log1p=())

    assert prepared.state["center"]["a"] == 3.0
    assert prepared.state["scale"]["a"] == 2.0  # 4 - 2
    np.testing.assert_allclose(prepared.X[:, 0], [-1.0, -0.5, 0.0, 0.5, 48.5])


def test_robust_scaling_falls_back_to_the_standard_deviation_when_most_values_are_equal():
    frame = pd.DataFrame({"frequency": [1.0] * 8 + [2.0, 9.0]})
    prepared = clustering.preprocess(frame, scaler="robust", log1p=())

    assert prepared.state["scale_fallback"] == {"frequency": "std"}
    assert prepared.state["scale"]["frequency"] == pytest.approx(np.std(frame["frequency"]))


def test_a_column_with_one_value_for_everyone_is_refused_by_name():
    frame = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "complains": [0, 0, 0]})

    with pytest.raises(ClusteringError, match="'complains'"):
        clustering.preprocess(frame)


def test_a_text_column_must_be_declared_categorical():
    frame = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "country": ["GB", "FR", "GB"]})

    with pytest.raises(ClusteringError, match="'country' is not numeric"):
        clustering.preprocess(frame)


def test_new_rows_with_an_unseen_category_encode_as_zeros():
    frame = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "country": ["GB", "FR", "GB"]})
    state = clustering.preprocess(frame, categorical=["country"]).state

    X = clustering.transform(pd.DataFrame({"monetary": [5.0], "country": ["US"]}), state)

    assert X.tolist() == [[0.0, 0.0, 0.0]]


def test_transform_names_a_missing_column():
    state = clustering.preprocess(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]})).state

    with pytest.raises(ClusteringError, match="'b'"):
        clustering.transform(pd.DataFrame({"a": [1.0]}), state)


# ------------------------------------------------------------------------------------------------
# choose_k


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
    assert lenient.knee is not None and lenient.knee != lenient.best_silhouette

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


# ------------------------------------------------------------------------------------------------
# fit


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch", "gmm", "agglomerative"])
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


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch", "gmm", "agglomerative", "hdbscan"])
def test_the_same_customers_in_any_order_get_the_same_segments(algorithm):
    X, _ = blobs(n=3_000, centres=4, seed=7, std=1.5)
    shuffle = np.random.default_rng(7).permutation(len(X))

    first = clustering.fit(X, algorithm=algorithm, k=4, sample_size=1_000, seed=3)
    again = clustering.fit(X, algorithm=algorithm, k=4, sample_size=1_000, seed=3)
    shuffled = clustering.fit(X[shuffle], algorithm=algorithm, k=4, sample_size=1_000, seed=3)

    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.labels[shuffle], shuffled.labels)


def test_rfm_names_become_labels_with_centroids():
    X, _ = blobs(n=300, centres=3, seed=8)
    names = np.array(["Champions"] * 60 + ["Lost"] * 200 + ["New"] * 40, dtype=object)

    result = clustering.fit(X, algorithm="rfm", names=names)

    assert result.params["names"] == {0: "Lost", 1: "Champions", 2: "New"}
    np.testing.assert_array_equal(result.labels, [1] * 60 + [0] * 200 + [2] * 40)
    np.testing.assert_allclose(result.centroids[1], X[:60].mean(axis=0))


def test_fit_needs_k_for_k_algorithms():
    with pytest.raises(ClusteringError, match="needs k"):
        clustering.fit(np.zeros((10, 2)), algorithm="gmm")


def test_fit_refuses_too_few_customers_for_k():
    with pytest.raises(ClusteringError, match="too few customers for K=5"):
        clustering.fit(np.arange(6.0).reshape(3, 2), k=5)


def test_fit_refuses_an_option_the_algorithm_does_not_take():
    with pytest.raises(ClusteringError, match="batch_sise"):
        clustering.fit(np.arange(20.0).reshape(10, 2), algorithm="minibatch", k=2, batch_sise=100)


def test_assign_picks_the_nearest_centroid_across_blocks():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(70_000, 3))  # more than one 65,536-row block
    centroids = rng.normal(size=(6, 3))

    labels = clustering.assign(X, centroids)

    brute = np.argmin(((X[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(labels, brute)


# ------------------------------------------------------------------------------------------------
# evaluate


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


# ------------------------------------------------------------------------------------------------
# RFM rules


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


# ------------------------------------------------------------------------------------------------
# profile and names


def test_profiles_describe_each_segment_in_original_units():
    features, groups = shop()
    labels = pd.Categorical(groups, categories=["lost", "new", "at_risk", "champions"]).codes.astype(np.int64)

    profiles = clustering.profile(features, labels)

    assert [p["label"] for p in profiles] == [0, 1, 2, 3]
    assert [p["size"] for p in profiles] == [400, 250, 200, 150]
    assert sum(p["share"] for p in profiles) == pytest.approx(1.0)
    assert sum(p["revenue_share"] for p in profiles) == pytest.approx(1.0, abs=1e-3)
    champions = profiles[3]
    in_group = features[groups == "champions"]
    # Rounded to 4 decimals: they are stored as JSON.
    assert champions["median"]["monetary"] == round(in_group["monetary"].median(), 4)
    assert champions["mean"]["frequency"] == round(in_group["frequency"].mean(), 4)
    assert champions["revenue_share"] > 0.5
    assert champions["description"].startswith(f"Bought {round(in_group['recency_days'].median())} days ago on median")
    assert f"£{features['monetary'].median():,.0f}" in champions["description"]
    assert "far more than the typical customer" in champions["description"]
    json.dumps(profiles)


def test_naming_calls_the_recent_frequent_big_spenders_champions():
    features, groups = shop(seed=1)
    prepared = clustering.preprocess(features)
    result = clustering.fit(prepared.X, k=4)
    profiles = clustering.profile(features, result.labels)

    names = clustering.name_segments(profiles)

    def name_of(group):
        return names[np.bincount(result.labels[groups == group]).argmax()]

    assert name_of("champions") == "Champions"
    assert name_of("new") == "New"
    assert name_of("lost") == "Lost"
    assert len(set(names.values())) == 4


def test_naming_against_the_population_gives_the_same_names():
    features, groups = shop(seed=2)
    labels = pd.Categorical(groups).codes.astype(np.int64)
    profiles = clustering.profile(features, labels)

    assert clustering.name_segments(profiles, population=features) == clustering.name_segments(profiles)


def test_two_segments_that_would_share_a_name_get_a_qualifier_not_a_number():
    features, groups = shop(seed=3)
    champions = np.flatnonzero(groups == "champions")
    features.loc[champions[:75], "monetary"] *= 3  # half the champions spend three times as much
    labels = pd.Categorical(groups, categories=["lost", "new", "at_risk", "champions"]).codes.astype(np.int64)
    labels[champions[:75]] = 4

    names = clustering.name_segments(clustering.profile(features, labels))

    assert names[3] == "Champions (lower spend)"
    assert names[4] == "Champions (higher spend)"


def test_noise_is_named_outliers():
    features, groups = shop(seed=4)
    labels = pd.Categorical(groups).codes.astype(np.int64)
    labels[:5] = -1

    profiles = clustering.profile(features, labels)
    names = clustering.name_segments(profiles)

    assert profiles[-1]["label"] == -1 and profiles[-1]["noise"]
    assert names[-1] == "Outliers"


def test_attribute_only_segments_are_named_from_their_most_distinctive_features():
    rng = np.random.default_rng(5)
    features = pd.DataFrame(
        {
            "money_spent": np.concatenate([rng.uniform(1_000, 2_000, 100), rng.uniform(50, 200, 300)]),
            "complains": np.concatenate([np.zeros(100, dtype=int), rng.integers(1, 4, 300)]),
        }
    )
    labels = np.array([1] * 100 + [0] * 300)

    profiles = clustering.profile(features, labels)
    names = clustering.name_segments(profiles)

    assert names[1] == "High money_spent, few complains"
    assert names[0] == "Many complains, low money_spent"
    assert profiles[1]["description"].startswith("High money_spent:")


# ------------------------------------------------------------------------------------------------
# identity across runs


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


# ------------------------------------------------------------------------------------------------
# plots


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
