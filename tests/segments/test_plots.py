"""The plotly figures and tables of the segmentation pages, from small hand-made run data.

segments/plots.py is pure: no database and no Django here, only plain dicts in and plotly
objects (or rows) out.
"""

import json
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

from segments import playbook, plots

CANDIDATES = [
    {"k": 2, "inertia": 90.0, "silhouette": 0.51},
    {"k": 3, "inertia": 30.0, "silhouette": 0.74},
    {"k": 4, "inertia": 25.0, "silhouette": 0.55},
    {"k": 5, "inertia": 21.0, "silhouette": None},
]
PROJECTION = {
    "x": [0.1, 0.2, -1.0, -1.1, 2.0],
    "y": [0.0, 0.1, 1.0, 1.2, -2.0],
    "z": [0.3, 0.2, 0.1, 0.0, -0.1],
    "segments": ["champions", "champions", "lost", "lost", "new"],
    "explained_variance": [0.7, 0.2, 0.1],
}
NAMES = {"champions": "Champions", "lost": "Lost", "new": "New"}
# The colours of the keys above (segments/playbook.py): champions green, lost grey, new blue.
GREEN, GREY, BLUE = (playbook.FAMILIES[family].colour for family in ("champions", "lost", "new"))


# --- Colours ------------------------------------------------------------------------------------


def test_figures_take_each_segments_colour_from_the_playbook():
    assert plots.segment_colours(["lost", "new", "champions"]) == {"champions": GREEN, "lost": GREY, "new": BLUE}


def test_a_figure_takes_the_colours_the_page_passes():
    figure = plots.projection_figure(PROJECTION, NAMES, dimensions=2, colours={"champions": "#000000"})

    assert [trace.marker.color for trace in figure.data] == ["#000000", GREY, BLUE]


def test_a_translucent_colour_is_the_same_colour_as_rgba():
    assert plots._translucent("#1f77b4") == "rgba(31,119,180,0.35)"
    assert plots._translucent("#bbbbbb", alpha=1.0) == "rgba(187,187,187,1.0)"


# --- Elbow --------------------------------------------------------------------------------------


def test_the_elbow_marks_the_chosen_k_on_the_inertia_curve():
    figure = plots.elbow_figure(CANDIDATES, chosen_k=3)

    inertia, silhouette, chosen = figure.data
    assert list(inertia.x) == [2, 3, 4, 5] and list(inertia.y) == [90.0, 30.0, 25.0, 21.0]
    assert list(silhouette.y) == [0.51, 0.74, 0.55, None]
    assert chosen.name == "Chosen: 3 segments"
    assert list(chosen.x) == [3] and list(chosen.y) == [30.0]
    assert silhouette.yaxis == "y2"


def test_the_elbow_marks_nothing_when_k_was_asked_for_outside_the_candidates():
    figure = plots.elbow_figure(CANDIDATES, chosen_k=7)

    assert [trace.name for trace in figure.data] == ["Inertia (elbow)", "Silhouette"]


def test_the_elbow_sorts_the_candidates_by_k_and_draws_a_line_at_the_chosen_one():
    figure = plots.elbow_figure(list(reversed(CANDIDATES)), chosen_k=4)

    assert list(figure.data[0].x) == [2, 3, 4, 5]
    assert [(shape.x0, shape.x1) for shape in figure.layout.shapes] == [(4, 4)]
    assert list(figure.data[2].text) == ["4 segments"]


def test_the_elbow_axes_say_which_way_is_better():
    figure = plots.elbow_figure(CANDIDATES, chosen_k=None)

    assert figure.layout.title.text == "How many segments? Inertia and silhouette for each number tried"
    assert figure.layout.xaxis.title.text == "Number of segments"
    assert figure.layout.yaxis.title.text == "Inertia (lower: tighter segments)"
    assert figure.layout.yaxis2.title.text == "Silhouette (higher: better separated)"
    # Round ticks: whole numbers of segments, tenths of the 0-1 scores.
    assert figure.layout.xaxis.dtick == 1 and figure.layout.yaxis2.dtick == 0.2
    assert figure.layout.shapes == ()


def test_the_elbow_draws_stability_on_the_second_axis_where_it_was_measured():
    # A run of the elbow curve from 2 to 5 that tried K = 3 and 4 only.
    candidates = [
        {"k": 2, "inertia": 90.0},
        {"k": 3, "inertia": 30.0, "silhouette": 0.74, "stability": 0.98},
        {"k": 4, "inertia": 25.0, "silhouette": 0.55, "stability": 0.62},
        {"k": 5, "inertia": 21.0},
    ]

    figure = plots.elbow_figure(candidates, chosen_k=3)

    inertia, silhouette, stability, chosen = figure.data
    assert list(inertia.y) == [90.0, 30.0, 25.0, 21.0]
    assert list(silhouette.y) == [None, 0.74, 0.55, None]
    assert stability.name == "Stability" and list(stability.y) == [None, 0.98, 0.62, None]
    assert stability.yaxis == "y2" and stability.line.dash == "dash"
    assert chosen.name == "Chosen: 3 segments"
    assert figure.layout.title.text == "How many segments? Inertia, silhouette and stability for each number tried"
    assert figure.layout.yaxis2.title.text == "Silhouette, stability (higher: better)"


# --- Projection ---------------------------------------------------------------------------------


def test_the_projection_draws_one_trace_per_segment_named_after_it():
    flat = plots.projection_figure(PROJECTION, NAMES, dimensions=2)
    solid = plots.projection_figure(PROJECTION, NAMES, dimensions=3)

    assert [trace.name for trace in flat.data] == ["Champions", "Lost", "New"]
    assert all(isinstance(trace, go.Scatter) for trace in flat.data)
    assert list(flat.data[1].x) == [-1.0, -1.1] and list(flat.data[1].y) == [1.0, 1.2]
    assert all(isinstance(trace, go.Scatter3d) for trace in solid.data)
    assert list(solid.data[2].z) == [-0.1]
    assert flat.layout.xaxis.title.text == "Direction 1 (70% of the differences)"


def test_the_projection_legend_is_in_the_order_of_the_names_and_colours_follow_the_keys():
    figure = plots.projection_figure(PROJECTION, {"champions": "Zebras", "lost": "Lost"}, dimensions=2)

    assert [trace.name for trace in figure.data] == ["Lost", "Zebras", "new"]
    assert [trace.marker.color for trace in figure.data] == [GREY, GREEN, BLUE]
    assert [trace.marker.size for trace in figure.data] == [6, 6, 6]


def test_the_3d_projection_titles_all_three_axes():
    figure = plots.projection_figure(PROJECTION, NAMES, dimensions=3)

    scene = figure.layout.scene
    assert (scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text) == (
        "Direction 1 (70%)",
        "Direction 2 (20%)",
        "Direction 3 (10%)",
    )
    assert [trace.marker.size for trace in figure.data] == [4, 4, 4]
    assert figure.layout.title.text == "Customers in 3-D (PCA of the clustering features), coloured by segment"


def test_a_projection_without_a_third_axis_is_drawn_flat_even_when_3d_is_asked_for():
    figure = plots.projection_figure({**PROJECTION, "z": []}, NAMES, dimensions=3)

    assert all(isinstance(trace, go.Scatter) for trace in figure.data)
    assert figure.layout.title.text.startswith("Customers in 2-D")


def test_an_axis_without_a_known_variance_is_titled_by_its_number_only():
    figure = plots.projection_figure({**PROJECTION, "explained_variance": [0.5, None]}, NAMES, dimensions=2)

    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == ("Direction 1 (50% of the differences)", "Direction 2")


def test_a_projection_has_two_or_three_dimensions():
    with pytest.raises(ValueError, match="dimensions must be 2 or 3, got 4"):
        plots.projection_figure(PROJECTION, NAMES, dimensions=4)


def test_a_segment_keeps_its_colour_across_figures():
    transitions = {"(new)": {"champions": 2, "lost": 2, "new": 1}}
    scatter = plots.projection_figure(PROJECTION, NAMES, dimensions=2)
    sankey = plots.sankey_figure(transitions, NAMES)

    scatter_colours = {trace.name: trace.marker.color for trace in scatter.data}
    node_colours = dict(zip(sankey.data[0].node.label, sankey.data[0].node.color))
    assert node_colours["Champions"] == scatter_colours["Champions"]
    assert node_colours["Lost"] == scatter_colours["Lost"]
    assert node_colours[plots.NEW_CUSTOMERS_LABEL] == plots.NEW_COLOUR


# --- Sankey -------------------------------------------------------------------------------------


def test_the_sankey_has_a_node_per_segment_on_each_side_and_a_link_per_move():
    transitions = {
        "champions": {"champions": 10, "lost": 2},
        "lost": {"lost": 5, "new": 0},
        "(new)": {"new": 3},
    }
    sankey = plots.sankey_figure(transitions, NAMES).data[0]

    # Left: where customers were; right: where they are now. Empty flows draw no link.
    assert list(sankey.node.label) == ["Champions", "Lost", plots.NEW_CUSTOMERS_LABEL, "Champions", "Lost", "New"]
    links = {
        (sankey.node.label[s], sankey.node.label[t] + " (now)"): v
        for s, t, v in zip(sankey.link.source, sankey.link.target, sankey.link.value)
    }
    assert links == {
        ("Champions", "Champions (now)"): 10,
        ("Champions", "Lost (now)"): 2,
        ("Lost", "Lost (now)"): 5,
        (plots.NEW_CUSTOMERS_LABEL, "New (now)"): 3,
    }


def test_a_sankey_link_has_the_colour_of_where_its_customers_came_from_made_translucent():
    figure = plots.sankey_figure({"champions": {"champions": 10, "lost": 2}, "(new)": {"new": 3}}, {})

    sankey = figure.data[0]
    assert list(sankey.node.color) == [GREEN, plots.NEW_COLOUR, GREEN, GREY, BLUE]
    champions, new = plots._translucent(GREEN), plots._translucent(plots.NEW_COLOUR)
    assert list(sankey.link.color) == [champions, champions, new]
    assert figure.layout.height == 360


def test_a_sankey_grows_with_the_number_of_segments():
    transitions = {f"s{i}": {f"s{i}": 1} for i in range(12)}

    assert plots.sankey_figure(transitions, {}).layout.height == 480


# --- Sizes and RFM grid -------------------------------------------------------------------------


def test_the_rfm_heatmap_puts_each_cell_at_its_recency_and_frequency_scores():
    heatmap = {"r": [5, 1], "f": [4, 1], "customers": [12, 30], "mean_monetary": [980.5, 25.0]}
    customers, spend = plots.rfm_heatmap_figure(heatmap).data

    assert customers.z[4][3] == 12 and spend.z[4][3] == 980.5
    assert customers.z[0][0] == 30 and spend.z[0][0] == 25.0
    assert customers.z[2][2] is None
    assert len(customers.z) == 5 and all(len(row) == 5 for row in customers.z)


def test_the_rfm_heatmap_leaves_out_scores_off_the_grid_and_titles_both_panels():
    off_grid = {"r": [0, 6, 2], "f": [1, 1, 3], "customers": [4, 5, 6], "mean_monetary": [1.0, 2.0, 3.0]}
    figure = plots.rfm_heatmap_figure(off_grid)

    customers, spend = figure.data
    assert [(r, f) for r in range(5) for f in range(5) if customers.z[r][f] is not None] == [(1, 2)]
    assert (customers.name, spend.name) == ("Customers", "Average spend")
    assert [annotation.text for annotation in figure.layout.annotations] == ["Customers", "Average spend (£)"]
    for axis in (figure.layout.xaxis, figure.layout.xaxis2):
        assert axis.title.text == "Frequency score (5: most orders)"
    for axis in (figure.layout.yaxis, figure.layout.yaxis2):
        assert axis.title.text == "Recency score (5: bought most recently)"


def test_the_rfm_heatmap_refuses_columns_of_different_lengths():
    with pytest.raises(ValueError):
        plots.rfm_heatmap_figure({"r": [1, 2], "f": [1], "customers": [3, 4], "mean_monetary": [5.0, 6.0]})


def test_segment_sizes_are_drawn_largest_first():
    profiles = [
        {"key": "lost", "name": "Lost", "size": 4, "share": 0.2},
        {"key": "champions", "name": "Champions", "size": 16, "share": 0.8, "revenue_share": 0.95},
    ]
    bar = plots.sizes_figure(profiles).data[0]

    assert list(bar.x) == ["Champions", "Lost"] and list(bar.y) == [16, 4]
    assert "95% of revenue" in bar.hovertext[0]


def test_segment_sizes_say_the_shares_and_keep_each_segments_colour():
    profiles = [
        {"key": "lost", "size": 4, "share": 0.2},
        {"key": "champions", "name": "Champions", "size": 16, "share": 0.8, "revenue_share": 0.95},
    ]
    figure = plots.sizes_figure(profiles)

    bar = figure.data[0]
    assert list(bar.x) == ["Champions", "lost"]  # a profile without a name shows its key
    assert list(bar.hovertext) == ["16 customers, 80% of all, 95% of revenue", "4 customers, 20% of all"]
    assert list(bar.marker.color) == [GREEN, GREY]
    assert list(bar.text) == ["16", "4"]
    assert (figure.layout.title.text, figure.layout.yaxis.title.text) == ("Segment sizes", "Customers")


# --- All figures of a run -----------------------------------------------------------------------


def test_a_run_without_orders_or_k_choice_gets_only_the_figures_its_data_supports():
    figures = plots.run_figures(
        k_candidates=[],
        k=3,
        profiles=[{"key": "champions", "name": "Champions", "size": 2}],
        plot_data={"projection": {**PROJECTION, "z": []}, "names": NAMES},
        transitions={"champions": {"champions": 0}},
    )

    assert set(figures) == {"sizes", "projection_2d"}


def test_a_run_with_all_its_data_gets_every_figure_with_the_names_it_recorded():
    figures = plots.run_figures(
        k_candidates=CANDIDATES,
        k=3,
        profiles=[{"key": "champions", "name": "Old name", "size": 2}, {"key": "lost", "size": 2}],
        plot_data={
            "projection": PROJECTION,
            "names": NAMES,
            "rfm_heatmap": {"r": [5], "f": [5], "customers": [2], "mean_monetary": [100.0]},
        },
        transitions={"(new)": {"champions": 2, "lost": 2}},
    )

    assert list(figures) == ["elbow", "sizes", "projection_2d", "projection_3d", "rfm_heatmap", "sankey"]
    assert [trace.name for trace in figures["projection_2d"].data] == ["Champions", "Lost", "New"]
    assert list(figures["sankey"].data[0].node.label) == [plots.NEW_CUSTOMERS_LABEL, "Champions", "Lost"]


def test_a_figure_goes_to_the_page_as_json_without_plotly_js():
    text = plots.to_json(plots.elbow_figure(CANDIDATES, chosen_k=3))

    figure = json.loads(text)
    assert [trace["name"] for trace in figure["data"]][:2] == ["Inertia (elbow)", "Silhouette"]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Number of segments"
    assert "plotly.js v" not in text and "<script" not in text
    assert len(text) < 50_000


def test_a_figure_has_no_plotly_logo_link_and_follows_the_page_width():
    figure = json.loads(plots.to_json(plots.sizes_figure([{"key": "a", "size": 1}])))

    assert figure["config"] == {"displaylogo": False, "responsive": True}


def test_the_rfm_heatmap_writes_spend_in_the_shops_currency():
    figure = plots.rfm_heatmap_figure({"r": [5], "f": [5], "customers": [1200], "mean_monetary": [80.0]}, currency="€")

    customers, spend = figure.data
    assert customers.texttemplate == "%{z:,d}"
    assert spend.text[4][4] == "€80" and spend.text[0][0] == ""  # an empty cell shows nothing
    assert "€%{z:,.2f}" in spend.hovertemplate


def test_segment_sizes_write_thousands_with_separators():
    bar = plots.sizes_figure([{"key": "lost", "name": "Lost", "size": 12500, "share": 0.5}]).data[0]

    assert list(bar.text) == ["12,500"] and bar.hovertext[0].startswith("12,500 customers")


# --- Tables -------------------------------------------------------------------------------------


def test_profile_statistics_read_each_statistic_by_feature():
    profile = {"label": 0, "size": 9, "mean": {"monetary": 120.0, "frequency": 3.0}, "median": {"monetary": 100.0}}

    statistics, rows = plots.profile_statistics(profile)

    assert statistics == ["mean", "median"]
    assert dict(rows) == {"monetary": {"mean": 120.0, "median": 100.0}, "frequency": {"mean": 3.0}}


def test_profile_statistics_keep_new_statistics_and_skip_lists_and_flags():
    profile = {
        "label": 1,
        "mean": {"recency_days": 60.2, "monetary": 503.2},
        "percentile": {"recency_days": 31.8, "monetary": 69.2},
        "population_median": {"recency_days": 118.0, "monetary": 89.5},
        "integer_columns": ["recency_days"],
        "noise": False,
        "description": "Bought 19 days ago on median.",
    }

    statistics, rows = plots.profile_statistics(profile)

    assert statistics == ["mean", "percentile", "population_median"]
    assert dict(rows)["monetary"] == {"mean": 503.2, "percentile": 69.2, "population_median": 89.5}
    assert [feature for feature, _ in rows] == ["recency_days", "monetary"]


def test_profile_statistics_put_mean_and_median_first_and_keep_missing_values():
    profile = {
        "key": "champions",
        "name": "Champions",
        "segment_id": 4,
        "share": 0.5,
        "revenue_share": 0.9,
        "percentile": {"monetary": 88.0},
        "median": {"monetary": None, "complains": 1},
        "mean": {"monetary": 250.5, "complains": True, "country": "NL"},
    }

    statistics, rows = plots.profile_statistics(profile)

    assert statistics == ["mean", "median", "percentile"]
    assert dict(rows) == {"monetary": {"percentile": 88.0, "median": None, "mean": 250.5}, "complains": {"median": 1}}


def test_a_profile_without_statistics_has_an_empty_table():
    assert plots.profile_statistics({"label": 0, "size": 3, "noise": True}) == ([], [])


def test_only_ints_and_floats_are_numbers():
    assert plots._is_number(3) and plots._is_number(2.5)
    assert not any(plots._is_number(value) for value in (True, None, "3"))


def test_transition_rows_put_the_largest_flows_first_and_flag_stayers():
    rows = plots.transition_rows({"lost": {"lost": 5, "new": 7}, "(new)": {"new": 1}}, NAMES)

    assert [(r["from_name"], r["to_name"], r["customers"], r["stayed"]) for r in rows] == [
        ("Lost", "New", 7, False),
        ("Lost", "Lost", 5, True),
        (plots.NEW_CUSTOMERS_LABEL, "New", 1, False),
    ]


def test_transition_rows_leave_out_empty_flows_and_order_ties_by_name():
    rows = plots.transition_rows({"new": {"lost": 2, "champions": 2, "new": 0}, "gone": {"lost": 2}}, NAMES)

    assert rows == [
        {"from_key": "new", "from_name": "New", "to_key": "champions", "to_name": "Champions", "customers": 2,
         "stayed": False},
        {"from_key": "new", "from_name": "New", "to_key": "lost", "to_name": "Lost", "customers": 2, "stayed": False},
        {"from_key": "gone", "from_name": "gone", "to_key": "lost", "to_name": "Lost", "customers": 2, "stayed": False},
    ]


# --- Purity -------------------------------------------------------------------------------------


def test_plots_imports_nothing_from_django():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, segments.plots; print(sorted({m.split('.')[0] for m in sys.modules}))"],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "'plotly'" in loaded
    assert "'django'" not in loaded


def test_movement_counts_per_segment_who_was_kept_joined_came_new_and_left():
    transitions = {
        "champions": {"champions": 10, "lost": 2},
        "lost": {"lost": 5, "champions": 1},
        "(new)": {"new": 3, "champions": 4},
        "gone": {"lost": 7},
    }

    rows = {row["key"]: row for row in plots.movement_rows(transitions, NAMES)}

    assert rows["champions"] == {
        "key": "champions", "name": "Champions", "kept": 10, "joined": 1, "new": 4, "left": 2, "now": 15, "before": 12
    }
    assert (rows["lost"]["now"], rows["lost"]["joined"], rows["lost"]["left"]) == (14, 9, 1)
    assert (rows["new"]["now"], rows["new"]["new"]) == (3, 3)
    assert (rows["gone"]["now"], rows["gone"]["before"], rows["gone"]["left"]) == (0, 7, 7)  # emptied, still listed
    assert [row["key"] for row in plots.movement_rows(transitions, NAMES)] == ["champions", "lost", "new", "gone"]
