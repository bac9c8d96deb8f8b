"""Admin pages for segmentation runs and segments: what a run found, and starting a new one.

A run is a record, so its page is read-only: parameters, how K was chosen, quality figures a
shop owner can read, plots (segments/plots.py), profiles and who moved since the last run.
The run list has a "Run segmentation now" form; the run page polls a small status endpoint
while the run is queued or running. Segments can be renamed and described, nothing else:
they come from runs and are retired by runs, never deleted.

Registered here; segments/admin.py (customers and orders) imports this module at its end.
"""

from __future__ import annotations

import logging
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from . import features, plots, services, tasks
from .models import Algorithm, Customer, Membership, Segment, SegmentationRun

logger = logging.getLogger(__name__)

SCHEDULED_TASK = "segments.tasks.scheduled_segmentation_task"
SCHEDULED_TASK_EXAMPLE_KWARGS = '{"algorithm": "kmeans"}'
POLL_INTERVAL_MS = 1500
MEMBERS_PER_PAGE = 100

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
    "elbow": "Each K was tried. Inertia (solid) always falls as K grows; the bend of the elbow is where "
    "more segments stop paying off. Silhouette (dotted) says how well separated the segments are. "
    "The star marks the K this run used.",
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


def _number(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        # "19 days", not "19.00 days": medians of counts and days are usually whole.
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.{digits}f}"
    return str(value)


def _percent(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _admin_url(name: str, *args) -> str | None:
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None


def _duration(run: SegmentationRun) -> float | None:
    if run.timings.get("total") is not None:
        return run.timings["total"]
    if run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


def _status_badge(run: SegmentationRun):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(run.status, "#666"),
        run.get_status_display(),
    )


def _key_value_table(rows):
    """A small two-column table from (label, value) pairs, escaped."""
    if not rows:
        return "–"
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    return format_html('<table class="segcampaign-kv">{}</table>', body)


# --- Run now ------------------------------------------------------------------------------------

_ATTRIBUTE_SPLIT = re.compile(r"[\s,]+")


class RunNowForm(forms.Form):
    algorithm = forms.ChoiceField(
        choices=Algorithm.choices,
        initial=Algorithm.KMEANS,
        help_text="k-means suits most shops; classic RFM needs no machine learning.",
    )
    k = forms.CharField(
        label="Number of segments",
        initial="auto",
        max_length=6,
        help_text="'auto' lets the elbow and silhouette decide, or a number of at least 2.",
    )
    features = forms.MultipleChoiceField(
        choices=[(name, name) for name in (*features.DERIVED_FEATURES, *features.ENGAGEMENT_FEATURES)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: recency, frequency and monetary (the RFM default).",
    )
    attributes = forms.CharField(
        label="Customer attributes",
        required=False,
        help_text="Extra numeric columns from imported files, e.g. 'complains money_spent'.",
    )
    incremental = forms.BooleanField(
        required=False,
        help_text="Only re-place customers that changed since the last run, with its model (fast). "
        "A full run refits everything.",
    )

    def clean_k(self) -> int | None:
        value = self.cleaned_data["k"].strip().lower()
        if value in {"", "auto"}:
            return None
        if not value.isdigit() or int(value) < 2:
            raise forms.ValidationError("Enter 'auto' or a whole number of at least 2.")
        return int(value)

    def clean_attributes(self) -> list[str]:
        return [name for name in _ATTRIBUTE_SPLIT.split(self.cleaned_data["attributes"]) if name]

    def feature_names(self) -> list[str]:
        return list(dict.fromkeys([*self.cleaned_data["features"], *self.cleaned_data["attributes"]]))


# --- Runs -----------------------------------------------------------------------------------------


@admin.register(SegmentationRun)
class SegmentationRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status_badge",
        "algorithm_code",
        "k",
        "customers",
        "moved_display",
        "silhouette",
        "started_at",
        "duration",
    )
    list_display_links = ("id", "status_badge")
    list_filter = ("status", "algorithm", "incremental", "triggered_by")
    date_hierarchy = "created_at"
    list_per_page = 50
    fieldsets = (
        (
            "Status",
            {
                "fields": (
                    "status_badge",
                    "error",
                    "created_at",
                    "started_at",
                    "finished_at",
                )
            },
        ),
        (
            "Parameters",
            {
                "fields": (
                    "algorithm",
                    "k_requested",
                    "features",
                    "as_of",
                    "incremental",
                    "base_run",
                    "triggered_by",
                    "parameters",
                ),
                "description": "What this run was asked to do. Empty features mean the default set.",
            },
        ),
        (
            "Result",
            {"fields": ("k", "k_reason", "n_customers", "moved")},
        ),
    )
    readonly_fields = ("status_badge", "parameters")

    # -- list columns

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: SegmentationRun):
        return _status_badge(run)

    @admin.display(description="algorithm", ordering="algorithm")
    def algorithm_code(self, run: SegmentationRun) -> str:
        # The short code ("kmeans"): the long labels would squeeze the list; the filter has them.
        return run.algorithm + (" (incremental)" if run.incremental else "")

    @admin.display(description="customers", ordering="n_customers")
    def customers(self, run: SegmentationRun) -> str:
        return _number(run.n_customers)

    @admin.display(description="moved", ordering="moved")
    def moved_display(self, run: SegmentationRun) -> str:
        return _number(run.moved)

    @admin.display(description="silhouette")
    def silhouette(self, run: SegmentationRun) -> str:
        return _number(run.metrics.get("silhouette"), 3)

    @admin.display(description="duration")
    def duration(self, run: SegmentationRun) -> str:
        seconds = _duration(run)
        return "–" if seconds is None else f"{seconds:,.1f} s"

    @admin.display(description="run parameters")
    def parameters(self, run: SegmentationRun):
        return _key_value_table([(key, _number(value)) for key, value in sorted(run.params.items())])

    # -- permissions: runs are records. They are started with the form on the list page (which
    # needs the "add" permission) and never edited or deleted: memberships point at them.

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _may_start_runs(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    # -- URLs

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before the defaults: their "<object_id>/" catch-all would swallow "<id>/status/".
        return [
            path("run-now/", self.admin_site.admin_view(self.run_now_view), name="%s_%s_run_now" % info),
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="%s_%s_status" % info,
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "run_now_form": RunNowForm(),
            "may_start_runs": self._may_start_runs(request),
            "run_now_url": reverse("admin:segments_segmentationrun_run_now"),
            "periodic_tasks_url": _admin_url("django_celery_beat_periodictask_changelist"),
            "add_periodic_task_url": _admin_url("django_celery_beat_periodictask_add"),
            "scheduled_task": SCHEDULED_TASK,
            "scheduled_task_kwargs": SCHEDULED_TASK_EXAMPLE_KWARGS,
        }
        return super().changelist_view(request, extra_context=extra_context)

    def run_now_view(self, request):
        return require_POST(self._run_now)(request)

    def _run_now(self, request):
        if not self._may_start_runs(request):
            raise PermissionDenied
        changelist = reverse("admin:segments_segmentationrun_changelist")
        form = RunNowForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            messages.error(request, f"The run was not started. {problems}")
            return HttpResponseRedirect(changelist)
        run = None
        try:
            # The task is queued when this block commits; with no broker (the embedded demo)
            # Celery runs it eagerly right there, so the redirect lands on a finished run.
            with transaction.atomic():
                run = tasks.segmentation_run_queue(
                    algorithm=form.cleaned_data["algorithm"],
                    k=form.cleaned_data["k"],
                    feature_names=form.feature_names(),
                    incremental=form.cleaned_data["incremental"],
                    triggered_by="admin",
                )
        except services.SegmentationError as exc:
            messages.error(request, f"The run was not started: {exc}")
            return HttpResponseRedirect(changelist)
        except Exception as exc:
            if run is None:
                raise
            # The run row exists; either the eager run crashed (the row holds the error) or the
            # broker could not take the task (the row stays queued). Its page says which.
            logger.exception("segmentation run %s could not be run or queued", run.pk)
            run.refresh_from_db()
            if run.status == SegmentationRun.Status.QUEUED:
                messages.error(request, f"Run {run.pk} could not be handed to a worker: {exc}")
            else:
                messages.error(request, f"Run {run.pk} failed: {exc}")
            return HttpResponseRedirect(reverse("admin:segments_segmentationrun_change", args=[run.pk]))
        run.refresh_from_db()
        if run.status in UNFINISHED:
            messages.info(request, f"Run {run.pk} is queued; this page follows its progress.")
        elif run.status == SegmentationRun.Status.FAILED:
            messages.error(request, f"Run {run.pk} failed: {run.error}")
        else:
            messages.success(request, f"Run {run.pk} found {run.k} segments among {run.n_customers:,} customers.")
        return HttpResponseRedirect(reverse("admin:segments_segmentationrun_change", args=[run.pk]))

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SegmentationRun, pk=object_id)
        return JsonResponse(
            {
                "id": run.pk,
                "status": run.status,
                "status_display": run.get_status_display(),
                "percent": run.percent,
                "stage": run.stage,
                "stage_label": services.STAGES.get(run.stage, run.stage),
                "error": run.error,
                "done": run.status not in UNFINISHED,
            }
        )

    # -- the run page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        if run is not None:
            extra_context = {**(extra_context or {}), **self._run_page_context(run)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _run_page_context(self, run: SegmentationRun) -> dict:
        unfinished = run.status in UNFINISHED
        context = {
            "run": run,
            "unfinished": unfinished,
            "status_url": reverse("admin:segments_segmentationrun_status", args=[run.pk]),
            "poll_interval_ms": POLL_INTERVAL_MS,
            "status_badge": _status_badge(run),
            "stage_label": services.STAGES.get(run.stage, run.stage),
            "customers_display": _number(run.n_customers),
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
            metrics=self._metrics(run),
            timings=self._timings(run),
            profile_rows=self._profile_rows(profiles),
            feature_table=_feature_table(profiles),
            transition_rows=plots.transition_rows(run.transitions, names),
        )
        return context

    @staticmethod
    def _metrics(run: SegmentationRun) -> list[dict]:
        rows = []
        for key, value in run.metrics.items():
            # An empty "reason" only says there is nothing to explain.
            if key in METRICS_SHOWN_ELSEWHERE or (value is None and key not in SCORES):
                continue
            label, help_text = METRIC_HELP.get(key, (key.replace("_", " "), ""))
            value = _percent(value) if key == "noise_share" else _number(value, 3)
            rows.append({"key": key, "label": label, "value": value, "help": help_text})
        # Known metrics first, in a fixed order; anything else after.
        order = {key: i for i, key in enumerate(METRIC_HELP)}
        return sorted(rows, key=lambda row: order.get(row["key"], len(order)))

    @staticmethod
    def _timings(run: SegmentationRun) -> list[tuple[str, str]]:
        # Slowest stage first: that is the question a timing table answers. PostgreSQL's jsonb
        # does not keep the stages' order anyway.
        stages = sorted(((k, v) for k, v in run.timings.items() if k != "total"), key=lambda kv: -(kv[1] or 0))
        # Timings are keyed by stage; older runs keyed them by the words shown, which pass through.
        rows = [(services.STAGES.get(stage, stage), f"{seconds:,.2f} s") for stage, seconds in stages]
        if "total" in run.timings:
            rows.append(("total", f"{run.timings['total']:,.2f} s"))
        return rows

    @staticmethod
    def _profile_rows(profiles: list[dict]) -> list[dict]:
        rows = []
        for profile in sorted(profiles, key=lambda p: p.get("size") or 0, reverse=True):
            segment_id = profile.get("segment_id")
            rows.append(
                {
                    "name": profile.get("name") or profile.get("key") or f"cluster {profile.get('label')}",
                    "key": profile.get("key", ""),
                    "url": _admin_url("segments_segment_change", segment_id) if segment_id else None,
                    "size": _number(profile.get("size")),
                    "share": _percent(profile.get("share")),
                    "revenue_share": _percent(profile.get("revenue_share")),
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
                    [f"median {_number(population[name])}"] if name in population else [] for name in feature_names
                ],
                "population": True,
            }
        )
    return {"features": feature_names, "rows": rows}


def _statistics_cell(values: dict) -> list[str]:
    """The median and mean of one feature (the two a shop owner compares), else whatever there is."""
    shown = [stat for stat in ("median", "mean") if stat in values] or list(values)
    return [f"{stat} {_number(values[stat])}" for stat in shown]


# --- Segments -------------------------------------------------------------------------------------


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_active", "size_display", "algorithm", "last_run_link")
    list_filter = ("is_active", "algorithm", "name_locked")
    search_fields = ("name", "key", "description")
    # The member list sits between the form and the bottom buttons: save from the top too.
    save_on_top = True
    fieldsets = (
        (
            "What the marketer sets",
            {
                "fields": ("name", "description"),
                "description": "Renaming a segment keeps the new name through later runs; campaign rules "
                "follow the segment, not its name.",
            },
        ),
        (
            "What the runs found",
            {
                "fields": (
                    "key",
                    "is_active",
                    "name_locked",
                    "size",
                    "algorithm",
                    "first_run",
                    "last_run",
                    "retired_at",
                    "profile_display",
                ),
            },
        ),
        ("Model internals", {"fields": ("centroid",), "classes": ("collapse",)}),
    )
    # Everything but what the marketer sets comes from the runs.
    readonly_fields = tuple(
        name for _, options in fieldsets for name in options["fields"] if name not in ("name", "description")
    )

    @admin.display(description="customers", ordering="size")
    def size_display(self, segment: Segment) -> str:
        return _number(segment.size)

    @admin.display(description="last run", ordering="last_run")
    def last_run_link(self, segment: Segment):
        if segment.last_run_id is None:
            return "–"
        url = _admin_url("segments_segmentationrun_change", segment.last_run_id)
        return format_html('<a href="{}">Run {}</a>', url, segment.last_run_id)

    @admin.display(description="profile (last run)")
    def profile_display(self, segment: Segment):
        profile = segment.profile or {}
        if not profile:
            return "–"
        statistics, rows = plots.profile_statistics(profile)
        summary = [
            ("customers", _number(profile.get("size"))),
            ("share of customers", _percent(profile.get("share"))),
            ("share of revenue", _percent(profile.get("revenue_share"))),
        ]
        head = format_html_join("", "<th>{}</th>", ((plots.STATISTIC_LABELS.get(s, s),) for s in statistics))
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (feature, format_html_join("", "<td>{}</td>", ((_number(values.get(s)),) for s in statistics)))
                for feature, values in rows
            ),
        )
        return format_html(
            '<p class="segcampaign-description">{}</p>{}<table class="segcampaign-stats">'
            "<thead><tr><th>feature</th>{}</tr></thead><tbody>{}</tbody></table>",
            profile.get("description", ""),
            _key_value_table(summary),
            head,
            body,
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("last_run", "first_run")

    # Segments come from runs (no add) and are retired by runs, never deleted: memberships of
    # past runs and campaign history point at them.
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if "name" in form.changed_data:
            # Later runs keep a name a marketer chose instead of naming the segment from its profile.
            obj.name_locked = True
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        if segment is not None:
            extra_context = {**(extra_context or {}), **self._members_context(request, segment)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _members_context(self, request, segment: Segment) -> dict:
        members = (
            Membership.objects.filter(segment=segment, ended_run__isnull=True)
            .select_related("customer")
            .only("run_id", "customer__external_id", "customer__email", "customer__first_name", "customer__last_name")
            .order_by("customer_id")
        )
        page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("members_page"))
        link_customers = self.admin_site.is_registered(Customer)
        rows = [
            {
                "customer": str(membership.customer),
                "email": membership.customer.email,
                "url": _admin_url("segments_customer_change", membership.customer_id) if link_customers else None,
                "run_id": membership.run_id,
                "run_url": _admin_url("segments_segmentationrun_change", membership.run_id),
            }
            for membership in page.object_list
        ]
        return {"members_page": page, "member_rows": rows}
