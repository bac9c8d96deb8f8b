"""naming.py: names from profiles. No database, no Django."""

import numpy as np
import pandas as pd

from segments import clustering

from .conftest import shop


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


def test_a_segment_where_some_bought_and_returned_is_not_said_to_have_never_ordered():
    # Six never bought; four bought once and returned it (net spend 0): the median buys nothing.
    features = pd.DataFrame(
        {"recency_days": [400] * 6 + [200] * 4, "frequency": [0] * 6 + [1] * 4, "monetary": [0.0] * 10}
    )
    nobody = pd.DataFrame({"recency_days": [400] * 4, "frequency": [0] * 4, "monetary": [0.0] * 4})

    mixed = clustering.profile(features, np.zeros(10, dtype=np.int64))[0]
    never = clustering.profile(nobody, np.zeros(4, dtype=np.int64))[0]

    assert mixed["description"] != "Has not ordered yet."
    assert mixed["description"] == "Most have not bought anything they kept (0.4 orders per customer on average)."
    assert clustering.name_segments([mixed]) == {0: "Hardly purchased"}
    assert never["description"] == "Has not ordered yet."
    assert clustering.name_segments([never]) == {0: "Not yet purchased"}
