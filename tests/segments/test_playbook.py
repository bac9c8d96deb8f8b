"""Each segment's colour and suggested action (segments/playbook.py): pure, from keys, names and profiles."""

import pytest

from segments import playbook
from segments.clustering.naming import FEW_ORDERS_NAME, NO_ORDERS_NAME, NOISE_NAME
from segments.clustering.rfm import RFM_SEGMENTS

FAMILIES = playbook.FAMILIES


@pytest.mark.parametrize(
    ("key", "name", "family"),
    [
        ("champions", "Champions", "champions"),
        ("champions-higher-spend", "Champions (higher spend)", "champions"),
        ("at-risk-2", "At risk 2", "at-risk"),
        ("rfm-cannot-lose-them", "Cannot lose them", "cannot-lose-them"),
        ("potential-loyalist", "Potential loyalist", "potential-loyalist"),
        ("loyal", "VIPs", "loyal"),  # renamed by a marketer: the key still says what it is
        ("segment-3", "Lost", "lost"),  # a key that says nothing: the name does
        ("high-money-spent-few-complains", "High money_spent, few complains", None),
        ("newsletter-fans", "Newsletter fans", None),  # "new" only as a whole word
    ],
)
def test_a_segments_family_comes_from_its_key_else_its_name(key, name, family):
    assert playbook.family(key, name) == family


def test_every_name_the_naming_module_gives_has_a_family():
    names = [*RFM_SEGMENTS, "Big spenders", "Bargain hunters", NO_ORDERS_NAME, FEW_ORDERS_NAME, NOISE_NAME]

    assert [name for name in names if playbook.family(None, name) is None] == []


def test_colours_mean_something_champions_green_at_risk_amber_lost_grey():
    colours = playbook.segment_colours(["lost", "at-risk", "champions"])

    assert colours == {"champions": "#1b7837", "at-risk": "#e08214", "lost": "#525252"}


def test_a_segments_colour_does_not_depend_on_the_others_or_their_order():
    alone = playbook.segment_colours(["at-risk"])
    together = playbook.segment_colours(["new", "at-risk", "champions", "hibernating"])

    assert alone["at-risk"] == together["at-risk"]
    assert playbook.segment_colours(["b", "a"]) == playbook.segment_colours(["a", "b"])


def test_two_segments_of_one_family_get_two_shades_of_its_colour():
    colours = playbook.segment_colours(["champions-higher-spend", "champions-lower-spend"])

    assert colours["champions-higher-spend"] == FAMILIES["champions"].colour
    assert colours["champions-lower-spend"] != FAMILIES["champions"].colour
    assert colours["champions-lower-spend"] == playbook.shade(FAMILIES["champions"].colour, 1)


def test_a_shade_is_lighter_then_darker():
    assert playbook.shade("#808080", 0) == "#808080"
    assert playbook.shade("#808080", 1) == "#a6a6a6"  # 30% towards white
    assert playbook.shade("#808080", 2) == "#5a5a5a"  # 30% towards black


def test_other_segments_get_a_palette_colour_fixed_by_their_key_and_never_a_meaningful_one():
    keys = [f"high-attribute-{i}" for i in range(6)]
    colours = playbook.segment_colours(keys)

    assert len(set(colours.values())) == 6  # no two alike while the palette lasts
    assert set(colours.values()) <= set(playbook.OTHER_COLOURS)
    assert not set(colours.values()) & {family.colour for family in FAMILIES.values()}
    assert playbook.segment_colours(keys[:1])[keys[0]] == colours[keys[0]]


def test_more_segments_than_colours_reuse_the_palette():
    colours = playbook.segment_colours([f"group-{i}" for i in range(14)])

    assert len(colours) == 14 and set(colours.values()) == set(playbook.OTHER_COLOURS)


@pytest.mark.parametrize(
    ("key", "name", "action"),
    [
        ("at-risk", "At risk", "Win back with a discount"),
        ("champions", "Our best friends", "Reward them"),
        ("lost", "Lost", "One last win-back offer"),
        ("new", "New", "Welcome them"),
        ("not-yet-purchased", "Not yet purchased", "Get a first order"),
        ("outliers", "Outliers", "Check them by hand"),
    ],
)
def test_a_segment_of_a_family_gets_its_familys_action(key, name, action):
    assert playbook.suggested_action(key, name).action == action


def test_every_family_has_a_colour_an_action_and_a_sentence_on_how():
    for name, family in FAMILIES.items():
        assert family.colour.startswith("#") and len(family.colour) == 7, name
        assert family.action and family.detail.endswith("."), name


@pytest.mark.parametrize(
    ("percentile", "action"),
    [
        ({"recency_days": 85.0, "monetary": 90.0}, playbook.LAPSED_ACTION),  # long gone comes first
        ({"recency_days": 20.0, "monetary": 80.0}, playbook.VALUABLE_ACTION),
        ({"recency_days": 50.0, "monetary": 50.0}, playbook.GENERIC_ACTION),
        ({"complains": 90.0}, playbook.GENERIC_ACTION),
    ],
)
def test_a_segment_named_by_its_features_gets_an_action_read_from_its_profile(percentile, action):
    assert playbook.suggested_action("high-complains", "High complains", {"percentile": percentile}) == action
