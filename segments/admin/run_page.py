"""What a finished or running segmentation run's admin page shows.

A run is a record, so its page is read-only: status and progress while it is queued or
running (the page polls the run's status endpoint), then how K was chosen, quality figures a
shop owner can read, plots (segments/plots.py), profiles and who moved since the last run.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from segments import clustering, plots, services
from segments.models import Segment, SegmentationRun

from .display import admin_url, number, percent

POLL_INTERVAL_MS = 1500

STATUS_COLOURS = {
    SegmentationRun.Status.QUEUED: "#79aec8",
    SegmentationRun.Status.RUNNING: "#e0a800",
    SegmentationRun.Status.SUCCEEDED: "#2e8540",
    SegmentationRun.Status.FAILED: "#ba2121",
}
UNFINISHED = {SegmentationRun.Status.QUEUED, SegmentationRun.Status.RUNNING}

# Quality figures in words a shop owner can act on: (name, what it says, which way is better).
METRIC_HELP = {
    "silhouette": (
        "Silhouette",
        "how well separated the segments are, from -1 to 1; higher is better "
        "(above 0.5: clearly different groups, below 0.25: the groups blur into each other).",
    ),
    "davies_bouldin": (
        "Davies-Bouldin index",
        "how much segments overlap with their nearest neighbour, 0 or more; lower is better.",
    ),
    "calinski_harabasz": (
        "Calinski-Harabasz score",
        "how tight each segment is compared with the distance between segments; higher is better. "
        "Compare it between runs of the same shop only.",
    ),
    "noise_share": (
        "Unassigned (noise)",
        "share of customers a density method (HDBSCAN) left out of every segment; 0 for the other methods.",
    ),
    "sample_size": ("Customers measured", "the metrics above are computed on a random sample of this many customers."),
    "reason": ("Why metrics are missing", ""),
    "note": ("Note", ""),
}
SCORES = ("silhouette", "davies_bouldin", "calinski_harabasz")
# Metric entries drawn elsewhere on the page (sizes have their own chart).
METRICS_SHOWN_ELSEWHERE = {"sizes"}
PLOT_SECTIONS = (
    ("elbow", "Choosing the number of segments"),
    ("projection_2d", "Customers on a map (2-D)"),
    ("projection_3d", "Customers on a map (3-D, drag to turn)"),
    ("sizes", "Segment sizes"),
    ("rfm_heatmap", "RFM grid"),
    ("sankey", "Who moved since the last run"),
)
PLOT_HELP = {
    "elbow": "Inertia (solid) always falls as K grows; the bend of the elbow is where more segments stop "
    "paying off. Silhouette (dotted) says how well separated the segments are, stability (dashed) how much "
    "k-means refitted on other samples of the customers agrees with them (1: the same segments; from 0.8 they "
    "hold up). Both are drawn for the K the run tried. The star marks the K this run used.",
    "projection_2d": "Every dot is a customer (a sample of at most a few thousand), placed by the two "
    "directions in which customers differ most (PCA). Segments that sit apart are truly different.",
    "projection_3d": "The same with a third direction: drag to turn, scroll to zoom, click a legend entry "
    "to hide a segment.",
    "sizes": "Customers per segment. Hover for the share of customers and of revenue.",
    "rfm_heatmap": "Customers by recency score (rows, 5 = bought most recently) and frequency score "
    "(columns, 5 = most orders): how many are in each cell and what they spend on average.",
    "sankey": "Left: the segment each customer was in before this run; right: the segment now. "
    "Thick bands between different segments mean many customers changed.",
}


def status_badge(run: SegmentationRun):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(run.status, "#666"),
        run.get_status_display(),
    )


def context(run: SegmentationRun) -> dict:
    """The template context of a run's page: only its status while it is unfinished."""
    unfinished = run.status in UNFINISHED
    context = {
        "run": run,
        "unfinished": unfinished,
        "status_url": reverse("admin:segments_segmentationrun_status", args=[run.pk]),
        "poll_interval_ms": POLL_INTERVAL_MS,
        "status_badge": status_badge(run),
        "stage_label": services.STAGES.get(run.stage, run.stage),
        "customers_display": number(run.n_customers),
    }
    if unfinished:
        return context
    # Segments are identities a marketer may have renamed since the run: show today's
    # names (one query), falling back to the names the run recorded.
    keys = {p.get("key") for p in run.profiles} | set(run.plot_data.get("names", {}))
    keys |= {key for moves in run.transitions.values() for key in moves} | set(run.transitions)
    names = {p.get("key"): p.get("name") for p in run.profiles if p.get("key")}
    names.update(run.plot_data.get("names", {}))
    names.update(Segment.objects.filter(key__in=[k for k in keys if k]).values_list("key", "name"))
    profiles = [{**p, "name": names.get(p.get("key"), p.get("name"))} for p in run.profiles]
    figures = plots.run_figures(
        k_candidates=run.k_candidates,
        k=run.k,
        profiles=profiles,
        plot_data={**run.plot_data, "names": names},
        transitions=run.transitions,
    )
    context.update(
        plots=[
            {
                "name": name,
                "title": title,
                "help": PLOT_HELP[name],
                "html": plots.to_div(figures[name], div_id=f"plot-{name.replace('_', '-')}"),
            }
            for name, title in PLOT_SECTIONS
            if name in figures
        ],
        warnings=_warnings(run),
        fit_to_apply=clustering.fit_to_apply(run.warnings),
        metrics=_metrics(run),
        timings=_timings(run),
        profile_rows=_profile_rows(profiles),
        feature_table=_feature_table(profiles),
        transition_rows=plots.transition_rows(run.transitions, names),
    )
    return context


def _warnings(run: SegmentationRun) -> list[dict]:
    """The run's flags, those that make it unfit to apply first."""
    blocking = clustering.blocking_flags(run.warnings)
    return [{**w, "blocking": True} for w in blocking] + [
        {**w, "blocking": False} for w in run.warnings if w not in blocking
    ]


def _metrics(run: SegmentationRun) -> list[dict]:
    # A flagged result's silhouette can be high (one segment of nearly everyone and a few
    # outliers separate well): its help must not read as praise then.
    unfit = not clustering.fit_to_apply(run.warnings)
    rows = []
    for key, value in run.metrics.items():
        # An empty "reason" only says there is nothing to explain.
        if key in METRICS_SHOWN_ELSEWHERE or (value is None and key not in SCORES):
            continue
        label, help_text = METRIC_HELP.get(key, (key.replace("_", " "), ""))
        if unfit and key in SCORES:
            help_text = f"{help_text} Read it with the warnings above: they make these segments unfit to act on."
        value = percent(value) if key == "noise_share" else number(value, 3)
        rows.append({"key": key, "label": label, "value": value, "help": help_text})
    # Known metrics first, in a fixed order; anything else after.
    order = {key: i for i, key in enumerate(METRIC_HELP)}
    return sorted(rows, key=lambda row: order.get(row["key"], len(order)))


def _timings(run: SegmentationRun) -> list[tuple[str, str]]:
    # Slowest stage first: that is the question a timing table answers. PostgreSQL's jsonb
    # does not keep the stages' order anyway.
    stages = sorted(((k, v) for k, v in run.timings.items() if k != "total"), key=lambda kv: -(kv[1] or 0))
    # Timings are keyed by stage; older runs keyed them by the words shown, which pass through.
    rows = [(services.STAGES.get(stage, stage), f"{seconds:,.2f} s") for stage, seconds in stages]
    if "total" in run.timings:
        rows.append(("total", f"{run.timings['total']:,.2f} s"))
    return rows


def _profile_rows(profiles: list[dict]) -> list[dict]:
    rows = []
    for profile in sorted(profiles, key=lambda p: p.get("size") or 0, reverse=True):
        segment_id = profile.get("segment_id")
        rows.append(
            {
                "name": profile.get("name") or profile.get("key") or f"cluster {profile.get('label')}",
                "key": profile.get("key", ""),
                "url": admin_url("segments_segment_change", segment_id) if segment_id else None,
                "size": number(profile.get("size")),
                "share": percent(profile.get("share")),
                "revenue_share": percent(profile.get("revenue_share")),
                "description": profile.get("description", ""),
            }
        )
    return rows


def _feature_table(profiles) -> dict:
    """Per segment, each feature's median and mean, and a last row with all customers' medians.

    The comparison a shop owner makes is "this segment against everyone", so the population
    median (when the profiles carry it) closes the table.
    """
    per_segment = [(p, dict(plots.profile_statistics(p)[1])) for p in profiles]
    feature_names = list(dict.fromkeys(name for _, stats in per_segment for name in stats))
    rows = []
    for profile, stats in sorted(per_segment, key=lambda item: item[0].get("size") or 0, reverse=True):
        cells = [_statistics_cell(stats.get(name, {})) for name in feature_names]
        rows.append({"name": profile.get("name") or profile.get("key"), "cells": cells})
    population = {
        name: stats[name]["population_median"]
        for _, stats in per_segment
        for name in stats
        if "population_median" in stats[name]
    }
    if population:
        rows.append(
            {
                "name": "All customers",
                "cells": [
                    [f"median {number(population[name])}"] if name in population else [] for name in feature_names
                ],
                "population": True,
            }
        )
    return {"features": feature_names, "rows": rows}


def _statistics_cell(values: dict) -> list[str]:
    """The median and mean of one feature (the two a shop owner compares), else whatever there is."""
    shown = [stat for stat in ("median", "mean") if stat in values] or list(values)
    return [f"{stat} {number(values[stat])}" for stat in shown]
