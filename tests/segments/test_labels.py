"""Feature and setting names in a marketer's words (segments/labels.py)."""

from segments import labels


def test_known_features_read_as_words_with_the_shops_currency():
    assert labels.feature_label("recency_days") == "Days since last order"
    assert labels.feature_label("monetary") == "Total spend (£)"
    assert labels.feature_label("monetary", currency="€") == "Total spend (€)"
    assert labels.feature_label("frequency") == "Orders"


def test_an_unknown_feature_or_setting_reads_as_a_sentence():
    assert labels.feature_label("money_spent") == "Money spent"
    assert labels.setting_label("max_iter") == "Max iter"
    assert labels.humanize("hardly-purchased") == "Hardly purchased"
    assert labels.humanize("") == ""


def test_no_label_is_snake_case():
    for label in [*labels.FEATURE_LABELS.values(), *labels.SETTING_LABELS.values()]:
        assert "_" not in label, label
