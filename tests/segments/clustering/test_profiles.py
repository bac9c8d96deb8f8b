"""profiles.py (and the descriptions of wording.py): segments in original units. No database, no Django."""

import json

import numpy as np
import pandas as pd
import pytest

from segments import clustering

from .conftest import shop


def test_profiles_describe_each_segment_in_original_units():
    features, groups = shop()
    labels = pd.Categorical(groups, categories=["lost", "new", "at_risk", "champions"]).codes.astype(np.int64)

    profiles = clustering.profile(features, labels)

    assert [p["label"] for p in profiles] == [0, 1, 2, 3]
    assert [p["size"] for p in profiles] == [400, 250, 200, 150]
    assert [p["share"] for p in profiles] == [0.4, 0.25, 0.2, 0.15]
    assert sum(p["share"] for p in profiles) == pytest.approx(1.0)
    assert sum(p["revenue_share"] for p in profiles) == pytest.approx(1.0, abs=1e-3)
    champions = profiles[3]
    in_group = features[groups == "champions"]
    # Rounded to 4 decimals: they are stored as JSON.
    assert champions["median"]["monetary"] == round(in_group["monetary"].median(), 4)
    assert champions["mean"]["frequency"] == round(in_group["frequency"].mean(), 4)
    assert champions["revenue_share"] == round(in_group["monetary"].sum() / features["monetary"].sum(), 4)
    assert champions["revenue_share"] > 0.5
    assert champions["description"].startswith(f"Bought {round(in_group['recency_days'].median())} days ago on median")
    assert f"£{features['monetary'].median():,.0f}" in champions["description"]
    assert "far more than the typical customer" in champions["description"]
    json.dumps(profiles)
