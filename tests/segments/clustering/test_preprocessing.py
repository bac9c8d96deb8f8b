"""preprocessing.py: preprocess and transform on frames in original units. No database, no Django."""

import json

import numpy as np
import pandas as pd
import pytest

from segments import clustering
from segments.clustering import ClusteringError


def test_transform_repeats_preprocess_exactly_even_after_a_json_round_trip():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 365, 500),
            "frequency": rng.geometric(0.3, 500),
            "monetary": rng.lognormal(4, 1, 500) - 20,  # net spend: some customers returned more than they kept
        }
    )
    frame.loc[[3, 17], "recency_days"] = np.nan
    prepared = clustering.preprocess(frame)
    state = json.loads(json.dumps(prepared.state))

    np.testing.assert_array_equal(clustering.transform(frame, state), prepared.X)
    assert prepared.X.dtype == np.float64
    assert prepared.columns == ["recency_days", "frequency", "monetary"]


def test_it_imputes_the_median_and_records_it():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0], "b": [1.0, 2.0, 3.0, 4.0]})  # no long tail: no log
    prepared = clustering.preprocess(frame)

    assert prepared.state["impute"]["a"] == 3.0
    assert prepared.state["log1p"] == []
    expected = (np.array([1, 3, 3, 5]) - 3.0) / np.std([1, 3, 3, 5])
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


def test_robust_scaling_uses_median_and_interquartile_range():
    frame = pd.DataFrame({"a": [-94.0, 2.0, 3.0, 4.0, 5.0]})  # a long tail to the left is not logged

    prepared = clustering.preprocess(frame, scaler="robust")

    assert prepared.state["log1p"] == []
    assert prepared.state["center"]["a"] == 3.0
    assert prepared.state["scale"]["a"] == 2.0  # 4 - 2
    np.testing.assert_allclose(prepared.X[:, 0], [-48.5, -0.5, 0.0, 0.5, 1.0])


def test_robust_scaling_falls_back_to_the_standard_deviation_when_most_values_are_equal():
    frame = pd.DataFrame({"frequency": [1.0] * 8 + [0.0, 2.0]})  # not skewed: not logged
    prepared = clustering.preprocess(frame, scaler="robust")

    assert prepared.state["scale_fallback"] == {"frequency": "std"}
    assert prepared.state["scale"]["frequency"] == pytest.approx(np.std(frame["frequency"]))


def test_a_column_with_one_value_for_everyone_is_refused_by_name():
    frame = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "complains": [0, 0, 0]})

    with pytest.raises(ClusteringError, match="'complains'"):
        clustering.preprocess(frame)


def test_a_text_column_is_refused_by_name():
    frame = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "country": ["GB", "FR", "GB"]})

    with pytest.raises(ClusteringError, match="'country' is not numeric"):
        clustering.preprocess(frame)


def test_transform_names_a_missing_column():
    state = clustering.preprocess(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]})).state

    with pytest.raises(ClusteringError, match="'b'"):
        clustering.transform(pd.DataFrame({"a": [1.0]}), state)


def test_a_state_stored_by_an_earlier_version_still_transforms_the_same():
    # As segmentation runs stored it before "version" and the categorical option were removed.
    stored = {
        "version": 1, "input_columns": ["recency_days", "monetary"], "numeric": ["recency_days", "monetary"],
        "categorical": [], "impute": {"recency_days": 23.5, "monetary": 80.0}, "log1p": ["recency_days", "monetary"],
        "signed_log1p": ["monetary"], "scaler": "standard",
        "center": {"recency_days": 3.1362571990227583, "monetary": 3.778177261264772},
        "scale": {"recency_days": 1.3573881717635243, "monetary": 3.7419654031628453},
        "scale_fallback": {}, "categories": {}, "columns": ["recency_days", "monetary"],
    }
    frame = pd.DataFrame(
        {"recency_days": [3.0, 40.0, np.nan, 200.0, 7.0], "monetary": [20.0, -15.0, 300.0, 5000.0, 80.0]}
    )
    prepared = clustering.preprocess(frame)

    np.testing.assert_array_equal(clustering.transform(frame, stored), prepared.X)
    assert {key: stored[key] for key in prepared.state} == prepared.state
