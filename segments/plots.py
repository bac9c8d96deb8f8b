"""Plotly figures for the segmentation pages, built from what a run stores.

Pure: run data (plain dicts and lists from the run's JSON fields) in, plotly figures or HTML
fragments out; nothing here imports Django, so the figures are tested without a database.
Figures leave as JSON (to_json) that the page draws with plotly.js, which it loads once from
the app's own static files (the admin may run without internet access), compressed and cached.
Every figure takes its segments' colours from segments/playbook.py, so a segment has the same
colour on every card and in every figure, and its labels from segments/labels.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io
from plotly.subplots import make_subplots

from segments.clustering import NO_PREVIOUS_SEGMENT as NEW_CUSTOMERS
from segments.playbook import NEW_CUSTOMERS_COLOUR as NEW_COLOUR
from segments.playbook import segment_colours

NEW_CUSTOMERS_LABEL = "Not segmented before"
# Every figure: no plotly logo link (it points to the internet), and it follows the width of the page.
CONFIG = {"displaylogo": False, "responsive": True}
_MARGIN = {"l": 50, "r": 20, "t": 50, "b": 40}

_FONT = {"family": "-apple-system, 'Segoe UI', system-ui, Roboto, 'Helvetica Neue', Arial, sans-serif"}


def _colours(keys, colours: Mapping[str, str] | None) -> dict[str, str]:
    """The page's colours when it passed them (every figure alike), else each key's own."""
    own = segment_colours(keys)
    return {key: (colours or {}).get(key, own[key]) for key in own}


def elbow_figure(k_candidates: Sequence[Mapping], *, chosen_k: int | None) -> go.Figure:
    """Inertia per K (the elbow), and silhouette and stability per K on a second axis, the chosen K marked.

    Both figures of the second axis run from about 0 to 1, higher is better. K of the elbow
    curve that were not tried carry no silhouette or stability: their lines stop there. Runs
    from before stability was measured have no stability line.
    """
    rows = sorted(k_candidates, key=lambda row: row["k"])
    ks = [row["k"] for row in rows]
    stability = [row.get("stability") for row in rows]
    with_stability = any(value is not None for value in stability)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Scatter(x=ks, y=[row.get("inertia") for row in rows], mode="lines+markers", name="Inertia (elbow)"),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(
            x=ks,
            y=[row.get("silhouette") for row in rows],
            mode="lines+markers",
            name="Silhouette",
            line={"dash": "dot"},
        ),
        secondary_y=True,
    )
    if with_stability:
        figure.add_trace(
            go.Scatter(x=ks, y=stability, mode="lines+markers", name="Stability", line={"dash": "dash"}),
            secondary_y=True,
        )
    chosen = next((row for row in rows if row["k"] == chosen_k), None)
    if chosen is not None:
        figure.add_trace(
            go.Scatter(
                x=[chosen_k],
                y=[chosen.get("inertia")],
                mode="markers+text",
                name=f"Chosen: {chosen_k} segments",
                marker={"size": 16, "symbol": "star", "color": "#d62728"},
                text=[f"{chosen_k} segments"],
                textposition="top right",
            ),
            secondary_y=False,
        )
        figure.add_vline(x=chosen_k, line={"dash": "dash", "color": "#d62728", "width": 1})
    figure.update_layout(
        title="How many segments? Inertia, silhouette and stability for each number tried"
        if with_stability
        else "How many segments? Inertia and silhouette for each number tried",
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.2},
        height=380,
    )
    figure.update_xaxes(title_text="Number of segments", dtick=1)
    figure.update_yaxes(title_text="Inertia (lower: tighter segments)", secondary_y=False, tickformat="~s")
    second_axis = "Silhouette, stability (higher: better)" if with_stability else "Silhouette (higher: better separated)"
    # Both run from 0 to 1: fixed ticks at tenths, not wherever the data happen to end.
    figure.update_yaxes(title_text=second_axis, secondary_y=True, range=[0, 1.05], dtick=0.2, showgrid=False)
    return figure


def projection_figure(
    projection: Mapping, names: Mapping[str, str], *, dimensions: int = 2, colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Customers projected with PCA, one trace per segment (the legend shows segment names)."""
    if dimensions not in (2, 3):
        raise ValueError(f"dimensions must be 2 or 3, got {dimensions}")
    keys = list(projection.get("segments", []))
    axes = ("x", "y", "z")[:dimensions]
    if dimensions == 3 and not projection.get("z"):
        axes = ("x", "y")
    # Arrays, not lists: plotly checks a list point by point, which took most of the page's time.
    segment_of = np.asarray(keys, dtype=object)
    coordinates = {axis: np.asarray(projection[axis], dtype=np.float64) for axis in axes}
    points = {
        key: {axis: coordinates[axis][segment_of == key] for axis in axes} for key in dict.fromkeys(keys)
    }
    colours = _colours(points, colours)
    variance = list(projection.get("explained_variance") or [])
    # In 3-D the titles sit along the axes, where a long one runs into the next.
    share = "{:.0%}" if len(axes) == 3 else "{:.0%} of the differences"
    titles = [
        f"Direction {i + 1} ({share.format(variance[i])})"
        if i < len(variance) and variance[i] is not None
        else f"Direction {i + 1}"
        for i in range(len(axes))
    ]
    figure = go.Figure()
    for key in sorted(points, key=lambda k: names.get(k, k)):
        marker = {"color": colours[key], "size": 4 if len(axes) == 3 else 6, "opacity": 0.75}
        label = names.get(key, key)
        if len(axes) == 3:
            figure.add_trace(
                go.Scatter3d(**points[key], mode="markers", name=label, marker=marker, hovertext=label)
            )
        else:
            # SVG rather than WebGL: a plot sample is at most a few thousand points, and SVG
            # draws on machines (and headless browsers) without a GPU.
            figure.add_trace(go.Scatter(**points[key], mode="markers", name=label, marker=marker, hovertext=label))
    if len(axes) == 3:
        figure.update_layout(
            scene={
                "xaxis_title": titles[0],
                "yaxis_title": titles[1],
                "zaxis_title": titles[2],
                # A little further out than plotly's default eye, so the axis titles stay in view.
                "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.0}},
            },
            height=560,
        )
    else:
        figure.update_layout(xaxis_title=titles[0], yaxis_title=titles[1], height=460)
    figure.update_layout(
        title=f"Customers in {len(axes)}-D (PCA of the clustering features), coloured by segment",
        margin=_MARGIN,
        legend={"title": {"text": "Segment"}},
    )
    return figure


def sizes_figure(profiles: Sequence[Mapping], *, colours: Mapping[str, str] | None = None) -> go.Figure:
    """Customers per segment, largest first, with the share of customers and of revenue."""
    rows = sorted(profiles, key=lambda p: p.get("size") or 0, reverse=True)
    colours = _colours([p.get("key", str(p.get("label"))) for p in rows], colours)
    hover = []
    for p in rows:
        text = f"{p.get('size', 0):,} customers"
        if p.get("share") is not None:
            text += f", {p['share']:.0%} of all"
        if p.get("revenue_share") is not None:
            text += f", {p['revenue_share']:.0%} of revenue"
        hover.append(text)
    figure = go.Figure(
        go.Bar(
            x=[p.get("name", p.get("key")) for p in rows],
            y=[p.get("size", 0) for p in rows],
            marker={"color": [colours[p.get("key", str(p.get("label")))] for p in rows]},
            text=[f"{p.get('size', 0):,}" for p in rows],
            textposition="auto",
            hovertext=hover,
            hoverinfo="x+text",
            name="customers",
        )
    )
    figure.update_layout(
        title="Segment sizes", yaxis_title="Customers", margin=_MARGIN, height=360, showlegend=False
    )
    figure.update_yaxes(tickformat=",d", rangemode="tozero")
    return figure


def rfm_heatmap_figure(rfm_heatmap: Mapping, *, currency: str = "£") -> go.Figure:
    """Recency score x frequency score: customers per cell, and their mean spend, side by side.

    Scores are quintiles 1..5 (5: most recent / most frequent); every cell of the 5x5 grid is
    drawn, empty ones blank, so two runs' heatmaps line up.
    """
    scores = [1, 2, 3, 4, 5]
    customers = [[None] * 5 for _ in scores]
    spend = [[None] * 5 for _ in scores]
    for r, f, n, mean in zip(
        rfm_heatmap["r"], rfm_heatmap["f"], rfm_heatmap["customers"], rfm_heatmap["mean_monetary"], strict=True
    ):
        if r in scores and f in scores:
            customers[r - 1][f - 1] = n
            spend[r - 1][f - 1] = mean
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Customers", f"Average spend ({currency})"),
        horizontal_spacing=0.14,
        shared_yaxes=False,
    )
    figure.add_trace(
        go.Heatmap(
            z=customers,
            x=scores,
            y=scores,
            colorscale="Blues",
            name="Customers",
            texttemplate="%{z:,d}",
            hovertemplate="Recency score %{y}, frequency score %{x}: %{z:,d} customers<extra></extra>",
            colorbar={"x": 0.43, "len": 0.9, "title": {"text": "Customers"}, "tickformat": ",d"},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Heatmap(
            z=spend,
            x=scores,
            y=scores,
            colorscale="Greens",
            name="Average spend",
            # Text made here rather than by a template: an empty cell would read as a lone currency sign.
            text=[["" if value is None else f"{currency}{value:,.0f}" for value in row] for row in spend],
            texttemplate="%{text}",
            hovertemplate="Recency score %{y}, frequency score %{x}: average spend "
            + currency
            + "%{z:,.2f}<extra></extra>",
            colorbar={"x": 1.0, "len": 0.9, "title": {"text": f"Spend ({currency})"}, "tickformat": ",d"},
        ),
        row=1,
        col=2,
    )
    figure.update_xaxes(title_text="Frequency score (5: most orders)", dtick=1)
    figure.update_yaxes(title_text="Recency score (5: bought most recently)", dtick=1)
    # A taller top margin than the other figures: the subplot titles sit under the figure title.
    figure.update_layout(
        title="RFM grid: recency score by frequency score", margin={**_MARGIN, "t": 90}, height=430
    )
    return figure


def sankey_figure(
    transitions: Mapping[str, Mapping[str, int]], names: Mapping[str, str], *, colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Who moved where since the previous run: one node per segment on each side.

    Left nodes are the segments customers were in (plus "not segmented before"), right nodes
    the segments they are in now; link widths are customers.
    """
    sources = sorted(transitions, key=lambda key: (key == NEW_CUSTOMERS, names.get(key, key)))
    targets = sorted(
        {to for moves in transitions.values() for to in moves}, key=lambda key: names.get(key, key)
    )
    colours = _colours({*sources, *targets} - {NEW_CUSTOMERS}, colours)
    colours[NEW_CUSTOMERS] = NEW_COLOUR
    left = {key: i for i, key in enumerate(sources)}
    right = {key: len(sources) + i for i, key in enumerate(targets)}
    labels = [NEW_CUSTOMERS_LABEL if key == NEW_CUSTOMERS else names.get(key, key) for key in sources]
    labels += [names.get(key, key) for key in targets]
    link = {"source": [], "target": [], "value": [], "color": []}
    for source in sources:
        for target, count in transitions[source].items():
            if count:
                link["source"].append(left[source])
                link["target"].append(right[target])
                link["value"].append(count)
                link["color"].append(_translucent(colours[source]))
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "color": [colours[key] for key in sources] + [colours[key] for key in targets],
                "pad": 18,
                "thickness": 18,
            },
            link=link,
            valueformat=",d",
            valuesuffix=" customers",
        )
    )
    figure.update_layout(
        title="Where customers went: their segment in the last run (left) and in this one (right)",
        margin=_MARGIN,
        height=max(360, 40 * max(len(sources), len(targets))),
    )
    return figure


def _translucent(hex_colour: str, alpha: float = 0.35) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def to_json(figure: go.Figure) -> str:
    """The figure and its config as JSON, for a page that loads plotly.js once and draws it."""
    figure.update_layout(font=_FONT, separators=".,")
    return plotly.io.to_json({"data": figure.data, "layout": figure.layout, "config": CONFIG}, validate=False)


def run_figures(
    *, k_candidates: Sequence[Mapping], k: int | None, profiles: Sequence[Mapping], plot_data: Mapping,
    transitions: Mapping[str, Mapping[str, int]], colours: Mapping[str, str] | None = None, currency: str = "£",
) -> dict[str, go.Figure]:
    """Every figure a run's data supports, by name; a figure whose data the run lacks is left out.

    A run that failed early, an incremental run (no K choice) or a shop without orders (no RFM
    grid) simply has fewer figures.
    """
    names = {**{p["key"]: p["name"] for p in profiles if "key" in p and "name" in p}, **plot_data.get("names", {})}
    figures: dict[str, go.Figure] = {}
    if k_candidates:
        figures["elbow"] = elbow_figure(k_candidates, chosen_k=k)
    if profiles:
        figures["sizes"] = sizes_figure(profiles, colours=colours)
    projection = plot_data.get("projection")
    if projection and projection.get("segments"):
        figures["projection_2d"] = projection_figure(projection, names, dimensions=2, colours=colours)
        if projection.get("z"):
            figures["projection_3d"] = projection_figure(projection, names, dimensions=3, colours=colours)
    if plot_data.get("rfm_heatmap") and plot_data["rfm_heatmap"].get("r"):
        figures["rfm_heatmap"] = rfm_heatmap_figure(plot_data["rfm_heatmap"], currency=currency)
    if any(sum(moves.values()) for moves in transitions.values()):
        figures["sankey"] = sankey_figure(transitions, names, colours=colours)
    return figures


# --- Tables ------------------------------------------------------------------------------------

# Keys of a profile that describe the segment itself rather than a feature.
PROFILE_META_KEYS = frozenset({"label", "key", "name", "segment_id", "size", "share", "revenue_share", "description"})
# The statistics a table shows first, in this order; any other follows in the profile's order.
LEADING_STATISTICS = ("mean", "median")
# How the statistics a profile may hold read in a table header.
STATISTIC_LABELS = {
    "percentile": "percentile among all customers",
    "population_median": "median of all customers",
}


def profile_statistics(profile: Mapping) -> tuple[list[str], list[tuple[str, dict[str, object]]]]:
    """A profile's per-feature statistics as (statistic names, [(feature, {statistic: value})]).

    clustering.profile() writes each statistic as a mapping from feature to value
    ({"mean": {"monetary": 120.0}, "percentile": {...}}). A statistic it adds later reads the
    same, so the pages never hard-code feature or statistic names. Lists and flags (e.g.
    "integer_columns", "noise") are not statistics and are left out.
    """
    table: dict[str, dict[str, object]] = {}
    for statistic, values in profile.items():
        if statistic in PROFILE_META_KEYS or not isinstance(values, Mapping):
            continue
        for feature, value in values.items():
            if value is None or _is_number(value):
                table.setdefault(feature, {})[statistic] = value
    seen = list(dict.fromkeys(statistic for stats in table.values() for statistic in stats))
    order = [s for s in LEADING_STATISTICS if s in seen] + [s for s in seen if s not in LEADING_STATISTICS]
    return order, list(table.items())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def transition_rows(
    transitions: Mapping[str, Mapping[str, int]], names: Mapping[str, str]
) -> list[dict[str, object]]:
    """One row per (from, to) pair with customers, largest flows first; stayers are flagged."""
    rows = [
        {
            "from_key": source,
            "from_name": NEW_CUSTOMERS_LABEL if source == NEW_CUSTOMERS else names.get(source, source),
            "to_key": target,
            "to_name": names.get(target, target),
            "customers": count,
            "stayed": source == target,
        }
        for source, moves in transitions.items()
        for target, count in moves.items()
        if count
    ]
    return sorted(rows, key=lambda row: (-row["customers"], row["from_name"], row["to_name"]))


def movement_rows(
    transitions: Mapping[str, Mapping[str, int]], names: Mapping[str, str]
) -> list[dict[str, object]]:
    """Per segment, where its customers came from and how many left: the movement between two runs.

    "kept": in this segment in the last run and now; "joined": from another segment; "new": not
    segmented before (new customers); "left": in it last run, in another segment now. A segment
    that lost everyone still has a row, with nobody now. Largest segments (now) first.
    """
    keys = ({*transitions} | {to for moves in transitions.values() for to in moves}) - {NEW_CUSTOMERS}
    rows = {key: {"key": key, "name": names.get(key, key), "kept": 0, "joined": 0, "new": 0, "left": 0} for key in keys}
    for source, moves in transitions.items():
        for target, count in moves.items():
            if not count:
                continue
            if source == target:
                rows[target]["kept"] += count
            elif source == NEW_CUSTOMERS:
                rows[target]["new"] += count
            else:
                rows[target]["joined"] += count
                rows[source]["left"] += count
    for row in rows.values():
        row["now"] = row["kept"] + row["joined"] + row["new"]
        row["before"] = row["kept"] + row["left"]
    return sorted(rows.values(), key=lambda row: (-row["now"], row["name"]))
