"""What a finished or running segmentation run's admin page shows.

A run is a record, so its page is read-only: status and progress while it is queued or
running (the page polls the run's status endpoint). A finished run's page is written for the
marketer: segment cards first (run_sections.py), then sizes and who moved since the last run;
how K was chosen, quality scores, the maps and the run's settings sit under "Technical details",
whose figures are drawn only when it is opened. plotly.js is fetched after the page has loaded
(includes/plot_render.html): the cards and tables never wait for it.

Figures go to the page as JSON (plots.to_json) and are cached per run and what they show
(names, colours, currency): building them costs more than the rest of the page, and a run's
data never change once it ended.
"""

from __future__ import annotations

import hashlib
import json

import plotly

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import format_html

from segments import clustering, labels, playbook, plots, services
from segments.models import Segment, SegmentationRun

from . import run_sections
from .display import number, percent, seconds

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
# Figures the marketer sees at once, then those under "Technical details".
# (The sizes are a plain HTML chart: there at once, before plotly.js loads.)
MAIN_PLOTS = (("sankey", "Who moved since the last run"),)
TECHNICAL_PLOTS = (
    ("elbow", "Choosing the number of segments"),
    ("projection_2d", "Customers on a map (2-D)"),
    ("projection_3d", "Customers on a map (3-D, drag to turn)"),
    ("rfm_heatmap", "RFM grid"),
)
FIGURE_CACHE_SECONDS = 24 * 3600
# JSON inside <script type="application/json">: nothing in it may close the tag or open a comment.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}
PLOT_HELP = {
    "elbow": "Inertia (solid) always falls as K grows; the bend of the elbow is where more segments stop "
    "paying off. Silhouette (dotted) says how well separated the segments are, stability (dashed) how much "
    "k-means refitted on other samples of the customers agrees with them (1: the same segments; from 0.8 they "
    "hold up). Both are drawn for the K the run tried. The star marks the K this run used.",
    "projection_2d": "Every dot is a customer (a sample of at most a few thousand), placed by the two "
    "directions in which customers differ most (PCA). Segments that sit apart are truly different.",
    "projection_3d": "The same with a third direction: drag to turn, scroll to zoom, click a legend entry "
    "to hide a segment.",
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
        "settings_rows": run_sections.settings_rows(run),
        "plotly_version": plotly.__version__,
    }
    if unfinished:
        return context
    # Segments are identities a marketer may have renamed since the run: show today's
    # names (one query), falling back to the names the run recorded.
    keys = {p.get("key") for p in run.profiles} | set(run.plot_data.get("names", {}))
    keys |= {key for moves in run.transitions.values() for key in moves} | set(run.transitions)
    keys = {key for key in keys if key and key != plots.NEW_CUSTOMERS}
    names = {p.get("key"): p.get("name") for p in run.profiles if p.get("key")}
    names.update(run.plot_data.get("names", {}))
    names.update(Segment.objects.filter(key__in=keys).values_list("key", "name"))
    profiles = [{**p, "name": names.get(p.get("key"), p.get("name"))} for p in run.profiles]
    colours = playbook.segment_colours(keys, names)
    shares = run_sections.revenue_shares(run, profiles)
    figures = _figures(run, profiles, names, colours, shares)
    context.update(
        cards=run_sections.cards(profiles, colours, shares),
        main_plots=_plot_sections(figures, MAIN_PLOTS),
        technical_plots=_plot_sections(figures, TECHNICAL_PLOTS),
        warnings=_warnings(run),
        fit_to_apply=clustering.fit_to_apply(run.warnings),
        metrics=_metrics(run),
        timings=_timings(run),
        feature_table=run_sections.feature_table(profiles),
        movement_rows=run_sections.movement(run.transitions, names, colours),
        moved_display=number(run.moved),
        transition_rows=run_sections.transition_rows(run.transitions, names),
    )
    return context


def _figures(run: SegmentationRun, profiles, names, colours, shares) -> dict[str, str]:
    """Each figure's JSON by name, built once per run and per what it shows, then cached."""
    profiles = [{**p, "revenue_share": shares.get(p.get("key"))} for p in profiles]
    inputs = {
        "k_candidates": run.k_candidates,
        "k": run.k,
        "profiles": profiles,
        "plot_data": {**run.plot_data, "names": names},
        "transitions": run.transitions,
        "colours": colours,
        "currency": settings.CURRENCY_SYMBOL,
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    key = f"segments:run-figures:{run.pk}:{digest}"
    figures = cache.get(key)
    if figures is None:
        shown = {name for name, _ in (*MAIN_PLOTS, *TECHNICAL_PLOTS)}
        figures = {name: plots.to_json(figure) for name, figure in plots.run_figures(**inputs).items() if name in shown}
        cache.set(key, figures, FIGURE_CACHE_SECONDS)
    return figures


def _plot_sections(figures: dict[str, str], sections) -> list[dict]:
    return [
        {
            "name": name,
            "title": title,
            "help": PLOT_HELP[name],
            "element_id": f"plot-{name.replace('_', '-')}",
            "json": figures[name].translate(_JSON_SCRIPT_ESCAPES),
        }
        for name, title in sections
        if name in figures
    ]


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
        label, help_text = METRIC_HELP.get(key, (labels.humanize(key), ""))
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
    rows = [(services.STAGES.get(stage, stage), seconds(value)) for stage, value in stages]
    if "total" in run.timings:
        rows.append(("Total", seconds(run.timings["total"])))
    return rows
