"""k_choice.py: the number of segments from the elbow, the silhouette and stability. No database, no Django."""

import json

import numpy as np
import pandas as pd
import pytest

from segments import clustering
from segments.clustering import ClusteringError
from segments.clustering.k_choice import STABLE, STRUCTURE, pick_k

from .conftest import blobs


def tried(choice):
    """The candidates choose_k judged (the elbow curve also holds K outside the range, inertia only)."""
    return [c for c in choice.candidates if "stability" in c]


def long_tailed(n=6_000, seed=3):
    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n)
    frame = pd.DataFrame(
        {
            "recency_days": rng.exponential(120, n),
            "frequency": frequency,
            "monetary": frequency * rng.lognormal(3.5, 0.8, n),
        }
    )
    return clustering.preprocess(frame).X


@pytest.mark.parametrize("centres", [3, 5])
def test_choose_k_finds_the_number_of_groups(centres):
    X, _ = blobs(n=3_000, centres=centres, seed=centres)

    choice = clustering.choose_k(X)

    assert choice.k == centres
    assert [c["k"] for c in choice.candidates] == list(range(2, 13))
    assert [c["k"] for c in tried(choice)] == list(range(3, 11))
    assert all(c["inertia"] > 0 for c in choice.candidates)
    assert all(-1 <= c["silhouette"] <= 1 and -0.5 <= c["stability"] <= 1 for c in tried(choice))
    assert choice.best_silhouette == centres
    assert choice.reason.startswith(f"{centres} segments:")
    assert choice.flags == []
    json.dumps(choice.candidates)


def test_choose_k_records_every_figure_of_every_k_it_tries():
    X, _ = blobs(n=2_000, centres=4, seed=1)

    choice = clustering.choose_k(X, k_min=2, k_max=6)

    assert [c["k"] for c in choice.candidates] == list(range(2, 13))
    assert [set(c) for c in tried(choice)] == [
        {"k", "inertia", "silhouette", "stability", "largest_share", "smallest_share"}
    ] * 5
    assert [set(c) for c in choice.candidates[5:]] == [{"k", "inertia"}] * 6
    assert choice.params["k_min"] == 2 and choice.params["k_max"] == 6
    assert choice.params["resamples"] == 4


def test_choose_k_takes_the_knee_over_the_best_silhouette_when_its_segments_hold_up():
    # Long-tailed shop data: silhouette favours the fewest segments, the elbow bends at 5.
    X = long_tailed()

    choice = clustering.choose_k(X)

    assert (choice.knee, choice.best_silhouette) == (5, 3)
    assert choice.k == 5
    five = next(c for c in choice.candidates if c["k"] == 5)
    assert five["stability"] >= STABLE
    assert "this is where the elbow curve bends" in choice.reason
    assert "nearly as well separated as the best choice" in choice.reason
    assert choice.flags == []


def test_choose_k_falls_back_to_the_fewest_segments_with_flags_on_customers_without_structure():
    rng = np.random.default_rng(0)
    for X in (rng.normal(size=(4_000, 3)), rng.uniform(size=(4_000, 3))):
        choice = clustering.choose_k(X)

        assert choice.k == 3
        assert choice.structure < STRUCTURE
        assert [f["code"] for f in choice.flags] == ["no_structure", "unreliable_segments"]
        assert "do not fall into distinct groups" in choice.reason
        assert all(f["message"] for f in choice.flags)


def test_choose_k_measures_structure_against_shuffled_features():
    X, _ = blobs(n=3_000, centres=4, seed=2)

    choice = clustering.choose_k(X)

    assert choice.structure > 1.0  # the blobs' segments have less than half the shuffled inertia


def test_choose_k_skips_the_structure_test_with_one_feature():
    X = np.concatenate([np.zeros(300), np.full(300, 10.0), np.full(300, 20.0)])[:, None]
    X += np.random.default_rng(0).normal(0, 0.5, X.shape)

    choice = clustering.choose_k(X)

    assert choice.structure is None
    assert choice.k == 3


def test_choose_k_tries_no_more_segments_than_customers_allow():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [9.0, 0.0], [9.1, 0.1]])

    choice = clustering.choose_k(X, k_min=2)

    assert [c["k"] for c in tried(choice)] == [2, 3, 4, 5]
    assert choice.k == 3


def test_choose_k_refuses_too_few_customers():
    with pytest.raises(ClusteringError, match="too few customers"):
        clustering.choose_k(np.array([[0.0], [1.0]]), k_min=2)


def test_choose_k_is_the_same_for_the_same_customers_and_seed():
    X = long_tailed(n=3_000)

    first, again = clustering.choose_k(X, seed=4), clustering.choose_k(X[::-1].copy(), seed=4)

    assert (first.k, first.candidates) == (again.k, again.candidates)


# --- the rule over measured figures ------------------------------------------------------------


def candidate(k, silhouette=0.5, stability=0.95, largest=0.4, smallest=0.1):
    return {"k": k, "silhouette": silhouette, "stability": stability, "largest_share": largest, "smallest_share": smallest}


def test_pick_k_takes_the_knee_when_its_segments_hold_up():
    candidates = [candidate(3, silhouette=0.6), candidate(4), candidate(5), candidate(6)]

    k, reason = pick_k(candidates, knee=5)

    assert k == 5
    assert reason.startswith("5 segments: this is where the elbow curve bends")
    assert "agreement 0.95 of 1" in reason and "silhouette 0.50 against 0.60 with 3 segments" in reason


def test_pick_k_passes_over_a_knee_whose_segments_change_with_the_sample():
    candidates = [candidate(3), candidate(4, stability=0.9), candidate(5, stability=0.6), candidate(6, stability=0.7)]

    k, reason = pick_k(candidates, knee=5)

    assert k == 4
    assert "bends at 5, but with 5 segments refitting them on another sample of customers changes them" in reason
    assert "(agreement 0.60 of 1, below 0.80)" in reason
    assert "4 is the nearest number whose segments hold up" in reason


@pytest.mark.parametrize(
    ("knee", "words"),
    [
        (dict(silhouette=0.2), "much less separated than the best choice (silhouette 0.20 against 0.50"),
        (dict(largest=0.85), "one of them would hold 85% of the customers"),
        (dict(smallest=0.004), "one of them would hold under 1% of the customers"),
    ],
)
def test_pick_k_passes_over_a_knee_that_is_blurred_nearly_everyone_or_a_handful(knee, words):
    candidates = [candidate(3), candidate(4), candidate(5, **knee), candidate(6, silhouette=0.45)]

    k, reason = pick_k(candidates, knee=5)

    assert k == 4  # 4 and 6 are as near: the better separated
    assert words in reason


def test_pick_k_takes_the_best_separated_usable_k_without_a_knee():
    candidates = [candidate(3, stability=0.5, silhouette=0.7), candidate(4, silhouette=0.6), candidate(5)]

    k, reason = pick_k(candidates, knee=None)

    assert k == 4
    assert "no clear bend" in reason


def test_pick_k_takes_the_fewest_segments_when_no_k_holds_up():
    candidates = [candidate(3, stability=0.4), candidate(4, stability=0.5), candidate(5, stability=0.3)]

    k, reason = pick_k(candidates, knee=4)

    assert k == 3
    assert reason.startswith("3 segments, the fewest tried: no number of segments from 3 to 5")


def test_pick_k_says_when_the_knee_lies_outside_the_numbers_tried():
    k, reason = pick_k([candidate(3), candidate(4), candidate(5)], knee=2)

    assert k == 3
    assert "bends at 2, outside the numbers tried (3 to 5)" in reason
