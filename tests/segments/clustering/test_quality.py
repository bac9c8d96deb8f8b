"""quality.py: the flags that say whether segments are fit to act on. No database, no Django."""

from segments import clustering


def profiles(*sizes, noise=()):
    return [{"name": f"S{i}", "size": size, "noise": i in noise} for i, size in enumerate(sizes)]


def test_a_segment_of_nearly_everyone_is_flagged_and_blocks_applying():
    flags = clustering.size_flags(profiles(850, 100, 50))

    assert [f["code"] for f in flags] == ["dominant_segment"]
    assert "'S0' holds 85% of your customers" in flags[0]["message"]
    assert not clustering.fit_to_apply(flags)


def test_a_segment_of_a_handful_of_customers_is_flagged_unless_small_by_design():
    assert [f["code"] for f in clustering.size_flags(profiles(600, 395, 5))] == ["tiny_segment"]
    assert "'S2' holds only 0.5% of your customers (5)" in clustering.size_flags(profiles(600, 395, 5))[0]["message"]
    # HDBSCAN's outliers and the cells of the RFM grid are small by design.
    assert clustering.size_flags(profiles(600, 395, 5, noise={2})) == []
    assert clustering.size_flags(profiles(600, 395, 5), rule=True) == []
    # Nearly everyone is nearly everyone, rule or not.
    assert [f["code"] for f in clustering.size_flags(profiles(900, 95, 5), rule=True)] == ["dominant_segment"]


def test_segments_of_workable_sizes_carry_no_flag():
    assert clustering.size_flags(profiles(500, 300, 200)) == []
    assert clustering.size_flags([]) == []


def test_a_feature_missing_for_most_customers_is_flagged_and_blocks_applying():
    flags = clustering.missing_flags({"complains": 0.7, "recency_days": 0.0, "age": 0.5})

    assert [f["code"] for f in flags] == ["mostly_missing_feature"]
    assert flags[0]["message"].startswith("'complains' is missing for 70% of your customers")
    assert not clustering.fit_to_apply(flags)


def test_a_feature_left_out_for_being_constant_informs_without_blocking():
    flags = clustering.constant_flags({"frequency": 1.0})

    assert flags == [
        {
            "code": "constant_feature_left_out",
            "message": "'frequency' is 1 for every customer, so it cannot tell customers apart and was left out.",
        }
    ]
    assert clustering.fit_to_apply(flags)


def test_only_blocking_flags_keep_a_result_from_going_live():
    flags = [
        {"code": "constant_feature_left_out", "message": "..."},
        {"code": "no_structure", "message": "..."},
        {"code": "unreliable_segments", "message": "..."},
    ]

    assert clustering.blocking_flags(flags) == [flags[2]]
    assert not clustering.fit_to_apply(flags)
    assert clustering.fit_to_apply(flags[:2])
    assert clustering.fit_to_apply([])


def test_after_sizes_change_the_models_flags_stay_and_the_size_flags_are_new():
    flags = [
        {"code": "constant_feature_left_out", "message": "frequency"},
        {"code": "dominant_segment", "message": "old sizes"},
    ]

    assert clustering.resized_flags(flags, profiles(500, 300, 200)) == [flags[0]]
    assert [f["code"] for f in clustering.resized_flags(flags[:1], profiles(900, 60, 40))] == [
        "constant_feature_left_out",
        "dominant_segment",
    ]
