"""Campaign run admin: each launch of a campaign, its plan in words, its progress and timings.

A run is a record: never added, edited or deleted by hand (its messages point at it). Its page
polls a small JSON status endpoint while it is planned or sent; the campaign's page polls the
same figures for its latest run.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns import selectors, services
from campaigns.models import Campaign, CampaignRun, Message
from segcampaign import jobs
from segcampaign.admin_records import RecordAdmin
from segments.admin.display import admin_url, number

from . import plans
from .display import run_badge
from .rule_forms import rule_in_words

POLL_INTERVAL_MS = 2000


def progress(run: CampaignRun) -> dict:
    """What the progress bar shows: the launch's stage while it is planned, then the sending."""
    sending = selectors.run_progress(run)
    campaign_status = Campaign.objects.filter(pk=run.campaign_id).values_list("status", flat=True).first()
    paused = campaign_status == Campaign.Status.PAUSED
    planning = run.status in jobs.UNFINISHED
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "stage_label": services.STAGES.get(run.stage, run.stage) if planning else "",
        "planning_percent": run.percent,
        "error": run.error,
        "campaign_status": campaign_status,
        "campaign_status_display": Campaign.Status(campaign_status).label if campaign_status else "",
        "to_send": sending["to_send"],
        "sent": sending["sent"],
        "failed": sending["failed"],
        "unknown": sending["unknown"],
        "waiting": sending["waiting"],
        "holdout": sending["counts"].get(Message.Status.HOLDOUT, 0),
        "percent": sending["percent"] if not planning else 0,
        # Nothing will change by itself any more: polling stops.
        "done": run.status == CampaignRun.Status.FAILED or (not planning and (not sending["waiting"] or paused)),
    }


def progress_context(run: CampaignRun, status_url: str) -> dict:
    figures = progress(run)
    return {"progress": figures, "status_url": status_url, "poll_interval_ms": POLL_INTERVAL_MS,
            "progress_run": run}


def messages_url(run: CampaignRun, **filters) -> str | None:
    url = admin_url("campaigns_message_changelist")
    if url is None:
        return None
    query = "&".join(f"{key}={value}" for key, value in {"run": run.pk, **filters}.items())
    return f"{url}?{query}"


@admin.register(CampaignRun)
class CampaignRunAdmin(RecordAdmin):
    # Runs are records: launched from the campaign's page, never edited or deleted.
    list_display = ("id", "campaign", "status_badge", "triggered_by", "created_at", "planned", "duration")
    list_display_links = ("id", "status_badge")
    list_filter = ("status", "triggered_by", ("campaign", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("campaign",)
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("campaign", "status_badge", "error", "triggered_by", "segmentation_run")}),
        ("When", {"fields": ("created_at", "started_at", "finished_at", "attempts")}),
    )
    readonly_fields = ("status_badge",)

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: CampaignRun):
        return run_badge(run)

    @admin.display(description="messages planned", ordering="messages_planned")
    def planned(self, run: CampaignRun) -> str:
        return number(run.messages_planned)

    @admin.display(description="took")
    def duration(self, run: CampaignRun) -> str:
        if run.started_at and run.finished_at:
            return f"{(run.finished_at - run.started_at).total_seconds():,.1f} s"
        return "–"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/status/", self.admin_site.admin_view(self.status_view), name="%s_%s_status" % info),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(progress(get_object_or_404(CampaignRun, pk=object_id)))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        if run is not None:
            extra_context = {**(extra_context or {}), **self._page(run)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _page(self, run: CampaignRun) -> dict:
        status_url = reverse("admin:campaigns_campaignrun_status", args=[run.pk])
        timings = sorted(((k, v) for k, v in run.timings.items() if k != "total"), key=lambda kv: -(kv[1] or 0))
        context = {
            "run": run,
            "run_badge": run_badge(run),
            "campaign_url": reverse("admin:campaigns_campaign_change", args=[run.campaign_id]),
            "timings": [(services.STAGES.get(stage, stage), f"{seconds:,.2f} s") for stage, seconds in timings],
            "total_time": f"{run.timings['total']:,.2f} s" if run.timings.get("total") is not None else "",
            "message_links": [
                (label, messages_url(run, **filters)) for label, filters in (
                    ("all messages", {}), ("sent", {"status__exact": "sent"}), ("failed", {"status__exact": "failed"}),
                    ("waiting", {"status__exact": "pending"}), ("held out", {"status__exact": "holdout"}),
                )
            ] if admin_url("campaigns_message_changelist") else [],
            **progress_context(run, status_url),
        }
        if run.plan:
            # The rules as they are now: a rule edited since the run says so in its own page's history.
            rules = run.campaign.rules.prefetch_related("segments")
            labels = {f"rule {rule.priority}": rule_in_words(rule) for rule in rules}
            context["plan"] = plans.context(run.plan, launched=True, rule_labels=labels)
        return context


def run_rows(campaign: Campaign, limit: int = 20) -> list[dict]:
    """The campaign's latest runs for its page (one query)."""
    rows = []
    for run in campaign.runs.order_by("-pk")[:limit]:
        rows.append({
            "run": run,
            "url": reverse("admin:campaigns_campaignrun_change", args=[run.pk]),
            "badge": run_badge(run),
            "planned": number(run.messages_planned),
            "when": run.started_at or run.created_at,
        })
    return rows


def run_link(run: CampaignRun):
    return format_html('<a href="{}">Run {}</a>', reverse("admin:campaigns_campaignrun_change", args=[run.pk]), run.pk)
