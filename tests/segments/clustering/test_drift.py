"""The rule that flags a renamed segment whose customers changed: medians moved by half or more."""

import pytest

from segments.clustering.drift import drift_message, profile_drift


def profile(**median):
    return {"median": median}


@pytest.mark.parametrize(
    "before, after, changed",
    [
        # The example: "2 orders a year" now profiles as "1 order, £65".
        (profile(frequency=2, monetary=130), profile(frequency=1, monetary=65), ["frequency", "monetary"]),
        # Up by half is a change, up by less is not.
        (profile(monetary=100), profile(monetary=150), ["monetary"]),
        (profile(monetary=100), profile(monetary=149), []),
        # Down by a third is the same factor the other way.
        (profile(monetary=150), profile(monetary=100), ["monetary"]),
        # Small figures count from a floor: 3 days becoming 20 is still "recent", 60 is not.
        (profile(recency_days=3), profile(recency_days=20), []),
        (profile(recency_days=20), profile(recency_days=60), ["recency_days"]),
        (profile(frequency=0), profile(frequency=1), []),
        (profile(monetary=2), profile(monetary=9), []),
        # A figure missing on either side is not compared.
        (profile(frequency=2), profile(monetary=65), []),
        (profile(frequency=None), profile(frequency=5), []),
        ({}, profile(frequency=5), []),
    ],
)
def test_a_median_moved_by_a_factor_of_one_and_a_half_is_a_change(before, after, changed):
    assert [name for name, _, _ in profile_drift(before, after)] == changed


def test_the_message_says_what_moved_from_what_to_what_and_what_to_do():
    changes = profile_drift(profile(frequency=2, monetary=130, recency_days=40), profile(frequency=1, monetary=65))

    message = drift_message("Regulars", changes, run_id=12, currency="£", new_name="At risk")

    assert message == (
        "The customers of 'Regulars' changed in run 12: the median customer went from 2 orders to 1 order and "
        "£130 spent to £65 spent. The name was given by hand and is kept: check that it still fits (from its "
        "customers alone it would now be called 'At risk'), and rename the segment if not."
    )
