"""Segmentation run admin: the list of runs, starting one, and its status while it works.

A run is a record: never added, edited or deleted by hand. The run list has a "Run
segmentation now" form (it needs the "add" permission); a run started there is a draft unless
"Make live straight away" is ticked. The run page (run_page.py) polls a small status endpoint
while the run is queued or running, says when its worker looks dead, and lets an operator with
the "change" permission mark a stuck run failed; a draft's page (run_draft.py) has "Make live"
for those with the "make live" permission.
"""

from __future__ import annotations

import logging
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from segcampaign import jobs
from segcampaign.admin_records import RecordAdmin
from segments import features, services, tasks
from segments.models import Algorithm, SegmentationRun

from . import run_draft, run_page
from .display import admin_url, key_value_table, moment_text, no_sign_of_life, number

logger = logging.getLogger(__name__)
GoLive = SegmentationRun.GoLive

SCHEDULED_TASK = "segments.tasks.scheduled_segmentation_task"
SCHEDULED_TASK_EXAMPLE_KWARGS = '{"algorithm": "kmeans"}'


def _duration(run: SegmentationRun) -> float | None:
    if run.timings.get("total") is not None:
        return run.timings["total"]
    if run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


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
        help_text=f"'auto' lets the elbow, silhouette and stability decide, or a number from 2 to {services.K_MAX}.",
    )
    features = forms.MultipleChoiceField(
        # Only features a run computes: the engagement ones once campaigns feed them back.
        choices=[(name, name) for name in features.offered_features(engagement=services.ENGAGEMENT_SUPPLIED)],
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
    make_live = forms.BooleanField(
        label="Make live straight away",
        required=False,
        initial=False,
        help_text="Unticked, the run is a draft: you see its segments, sizes and who would move, and nothing "
        "changes until you press Make live on its page. Ticked, its segments go live as it ends, unless the "
        "sanity checks find them unfit (then it waits as a draft too).",
    )

    def clean_k(self) -> int | None:
        value = self.cleaned_data["k"].strip().lower()
        if value in {"", "auto"}:
            return None
        if not value.isdigit() or not 2 <= int(value) <= services.K_MAX:
            raise forms.ValidationError(f"Enter 'auto' or a whole number from 2 to {services.K_MAX}.")
        return int(value)

    def clean_attributes(self) -> list[str]:
        names = [name for name in _ATTRIBUTE_SPLIT.split(self.cleaned_data["attributes"]) if name]
        for name in names:
            try:
                features.check_feature_name(name)
            except features.FeatureError as exc:
                raise forms.ValidationError(str(exc)) from None
        return names

    def feature_names(self) -> list[str]:
        return list(dict.fromkeys([*self.cleaned_data["features"], *self.cleaned_data["attributes"]]))


# --- Runs -----------------------------------------------------------------------------------------


@admin.register(SegmentationRun)
class SegmentationRunAdmin(RecordAdmin):
    list_display = (
        "id",
        "status_badge",
        "algorithm_code",
        "k",
        "customers",
        "moved_display",
        "live_display",
        "silhouette",
        "started_at",
        "duration",
    )
    list_display_links = ("id", "status_badge")
    list_filter = ("status", "is_draft", "algorithm", "incremental", "triggered_by")
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
        (
            "Going live",
            {
                "fields": ("is_draft", "draft_reason", "go_live", "compared_with", "applied_at", "applied_by"),
                "description": "A draft changed nothing; its segments go live when someone makes it live.",
            },
        ),
    )
    readonly_fields = ("status_badge", "parameters")

    # -- list columns

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: SegmentationRun):
        return run_page.status_badge(run)

    @admin.display(description="algorithm", ordering="algorithm")
    def algorithm_code(self, run: SegmentationRun) -> str:
        # The short code ("kmeans"): the long labels would squeeze the list; the filter has them.
        return run.algorithm + (" (incremental)" if run.incremental else "")

    @admin.display(description="customers", ordering="n_customers")
    def customers(self, run: SegmentationRun) -> str:
        return number(run.n_customers)

    @admin.display(description="moved", ordering="moved")
    def moved_display(self, run: SegmentationRun) -> str:
        return number(run.moved)

    @admin.display(description="live?", ordering="is_draft")
    def live_display(self, run: SegmentationRun) -> str:
        if run.status != SegmentationRun.Status.SUCCEEDED:
            return "–"
        return "draft" if run.is_draft else "live"

    @admin.display(description="silhouette")
    def silhouette(self, run: SegmentationRun) -> str:
        return number(run.metrics.get("silhouette"), 3)

    @admin.display(description="duration")
    def duration(self, run: SegmentationRun) -> str:
        seconds = _duration(run)
        return "–" if seconds is None else f"{seconds:,.1f} s"

    @admin.display(description="run parameters")
    def parameters(self, run: SegmentationRun):
        return key_value_table([(key, number(value)) for key, value in sorted(run.params.items())])

    # -- permissions: runs are records (RecordAdmin). They are started with the form on the list page
    # (which needs the model's "add" permission) and never edited or deleted: memberships point at them.

    def _may_start_runs(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def _may_make_live(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.make_live_{self.opts.model_name}")

    def _may_fail_runs(self, request) -> bool:
        # Failing a stuck run changes it: the model's change permission, which this admin's
        # has_change_permission (runs are records, never edited) does not grant by itself.
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

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
            path("<path:object_id>/fail/", self.admin_site.admin_view(self.fail_view), name="%s_%s_fail" % info),
            path(
                "<path:object_id>/make-live/",
                self.admin_site.admin_view(self.make_live_view),
                name="%s_%s_make_live" % info,
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "run_now_form": RunNowForm(),
            "may_start_runs": self._may_start_runs(request),
            "run_now_url": reverse("admin:segments_segmentationrun_run_now"),
            "periodic_tasks_url": admin_url("django_celery_beat_periodictask_changelist"),
            "add_periodic_task_url": admin_url("django_celery_beat_periodictask_add"),
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
                    go_live=GoLive.IF_FIT if form.cleaned_data["make_live"] else GoLive.NEVER,
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
        if run.status in run_page.UNFINISHED:
            messages.info(request, f"Run {run.pk} is queued; this page follows its progress.")
        elif run.status == SegmentationRun.Status.FAILED:
            messages.error(request, f"Run {run.pk} failed: {run.error}")
        elif run.is_draft:
            messages.info(
                request,
                f"Run {run.pk} found {run.k} segments among {run.n_customers:,} customers. It is a draft: nothing "
                "has changed until you press Make live.",
            )
        else:
            messages.success(
                request, f"Run {run.pk} found {run.k} segments among {run.n_customers:,} customers; they are live."
            )
        return HttpResponseRedirect(reverse("admin:segments_segmentationrun_change", args=[run.pk]))

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        # get_object answers None for an id that is not a number as for a missing run.
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(f"There is no segmentation run {object_id!r}.")
        return JsonResponse(
            {
                "id": run.pk,
                "status": run.status,
                "status_display": run.get_status_display(),
                "percent": run.percent,
                "stage": run.stage,
                "stage_label": services.STAGES.get(run.stage, run.stage),
                "error": run.error,
                "done": run.status not in run_page.UNFINISHED,
            }
        )

    def fail_view(self, request, object_id):
        return require_POST(self._fail)(request, object_id)

    def _fail(self, request, object_id):
        """An operator ends a run left running or queued by a worker that is gone."""
        if not self._may_fail_runs(request):
            raise PermissionDenied
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(f"there is no segmentation run {object_id!r}")
        if jobs.job_fail_by_hand(run, who=request.user.get_username()):
            logger.warning("segmentation run %s failed by hand by %s", run.pk, request.user.get_username())
            messages.success(request, f"Run {run.pk} is marked failed; new runs can start.")
        else:
            messages.warning(request, f"Run {run.pk} had already ended; nothing was changed.")
        return HttpResponseRedirect(reverse("admin:segments_segmentationrun_change", args=[run.pk]))

    def make_live_view(self, request, object_id):
        return require_POST(self._make_live)(request, object_id)

    def _make_live(self, request, object_id):
        """Someone who may make runs live makes a draft live (pressing twice does it once)."""
        if not self._may_make_live(request):
            raise PermissionDenied
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(f"there is no segmentation run {object_id!r}")
        page = reverse("admin:segments_segmentationrun_change", args=[run.pk])
        try:
            run, done = services.segmentation_run_make_live(run_id=run.pk, by=request.user.get_username())
        except services.SegmentationError as exc:
            messages.error(request, f"Run {run.pk} was not made live: {exc}")
            return HttpResponseRedirect(page)
        if done:
            logger.info("segmentation run %s made live by %s", run.pk, request.user.get_username())
            messages.success(
                request,
                f"Run {run.pk} is live: {run.moved:,} customers changed segment; campaigns now use these segments.",
            )
        else:
            messages.info(request, f"Run {run.pk} was already live; nothing changed.")
        return HttpResponseRedirect(page)

    # -- the run page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Checked before the page's plots are computed, which Django's own check would follow.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        run = self.get_object(request, object_id)
        if run is not None:
            extra_context = {
                **(extra_context or {}),
                **run_page.context(run),
                **run_draft.draft_context(run, may_make_live=self._may_make_live(request)),
                "title": f"Segmentation run {run.pk}",
                "subtitle": f"{run.get_algorithm_display()}, {run.get_status_display().lower()}"
                + (f" {moment_text(run.finished_at)}" if run.finished_at else ""),
                "no_sign_of_life": no_sign_of_life(run),
                "may_fail_run": run.unfinished and self._may_fail_runs(request),
                "fail_url": reverse("admin:segments_segmentationrun_fail", args=[run.pk]),
            }
        return super().change_view(request, object_id, form_url, extra_context=extra_context)
