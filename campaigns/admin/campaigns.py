"""Campaign admin: the campaign, its rules and templates, its schedule, who it would reach now,
and launching, pausing and resuming it while its progress shows.

Custom views and the permission each needs (tests/campaigns/admin/test_permissions.py):

- audience preview (a dry run of the planner) and the status endpoint: view campaign;
- launch, pause, resume: change campaign.

Rules are edited on the campaign's page (rule_inline.py); their permissions follow the campaign's.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from campaigns import services, tasks
from campaigns.models import Campaign
from segcampaign import jobs
from segments.admin.display import admin_url

from . import plans, runs
from .display import CAMPAIGN_STATUS_HELP, campaign_badge
from .rule_forms import RuleCatalog, condition_fields, rule_in_words
from .rule_inline import RuleInline
from .schedule_form import ScheduleFields, schedule_in_words

logger = logging.getLogger(__name__)
SCHEDULE_FIELDS = ("when", "schedule_at", "repeat", "repeat_time", "repeat_weekday", "repeat_day", "schedule_cron")


class CampaignForm(ScheduleFields, forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "description", "schedule_at", "schedule_cron", "holdout_percent", "goal_kind",
                  "goal_code", "goal_amount", "attribution_days", "quiet_start", "quiet_end",
                  "frequency_cap_messages", "frequency_cap_days"]
        labels = {
            "schedule_at": "At",
            "schedule_cron": "Cron expression",
            "holdout_percent": "Hold out (%)",
            "goal_kind": "A message worked when the customer places",
            "attribution_days": "within (days)",
            "quiet_start": "Quiet from",
            "quiet_end": "until",
            "frequency_cap_messages": "At most (messages)",
            "frequency_cap_days": "per (days)",
        }
        help_texts = {
            "schedule_at": "For 'once'.",
            "schedule_cron": "Only for 'by a cron expression': minute hour day-of-month month day-of-week, e.g. "
            "'0 9 * * 1' is every Monday at 09:00.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.update(self.schedule_initial(self.instance))

    def clean(self):
        cleaned = super().clean()
        self.clean_schedule(cleaned, at_changed="schedule_at" in self.changed_data or not self.instance.pk)
        goal = cleaned.get("goal_kind")
        if goal == Campaign.Goal.COUPON and not cleaned.get("goal_code"):
            self.add_error("goal_code", "Give the coupon code whose orders count.")
        if goal == Campaign.Goal.MIN_AMOUNT and not cleaned.get("goal_amount"):
            self.add_error("goal_amount", "Give the smallest order amount that counts.")
        if (cleaned.get("quiet_start") is None) != (cleaned.get("quiet_end") is None):
            self.add_error("quiet_end", "Give both ends of the quiet hours, or neither.")
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    inlines = [RuleInline]
    list_display = ("name", "status_badge", "schedule", "rule_count", "last_launch", "updated_at")
    list_filter = ("status",)
    search_fields = ("name", "description")
    save_on_top = True
    fieldsets = (
        (None, {"fields": ("name", "description", "status_badge")}),
        ("When it runs", {
            "fields": SCHEDULE_FIELDS,
            "description": "A scheduled campaign runs by itself: each run sends to whoever matches its rules at that "
            "moment. You can also launch it by hand at any time with the Launch button.",
        }),
        ("Measuring what it changes", {
            "fields": ("holdout_percent", "goal_kind", "goal_code", "goal_amount", "attribution_days"),
            "description": "A share of each segment's customers is held out at random and gets nothing: comparing "
            "their orders with the others' shows what the campaign really changed.",
        }),
        ("Being considerate", {
            "fields": ("quiet_start", "quiet_end", "frequency_cap_messages", "frequency_cap_days"),
            "description": "No message is sent during the quiet hours in the customer's own time zone: it waits "
            "for the morning. The frequency cap counts messages of every campaign, email and SMS together.",
        }),
    )
    readonly_fields = ("status_badge", "schedule")

    def get_fieldsets(self, request, obj=None):
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Whoever may only look sees the schedule in words, not the fields that write it.
        return tuple(
            (name, {**options, "fields": ("schedule",) if options["fields"] == SCHEDULE_FIELDS
                    else options["fields"]})
            for name, options in self.fieldsets
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, campaign: Campaign):
        return campaign_badge(campaign)

    @admin.display(description="schedule")
    def schedule(self, campaign: Campaign) -> str:
        return schedule_in_words(schedule_at=campaign.schedule_at, schedule_cron=campaign.schedule_cron)

    @admin.display(description="rules", ordering="rule_count")
    def rule_count(self, campaign: Campaign) -> int:
        return campaign.rule_count

    @admin.display(description="last launched", ordering="last_launch")
    def last_launch(self, campaign: Campaign):
        return campaign.last_launch or "never"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            rule_count=Count("rules", distinct=True), last_launch=Max("runs__created_at")
        )

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, RuleInline):
            kwargs["form_kwargs"] = {**kwargs.get("form_kwargs", {}), "catalog": self._catalog(request)}
        return kwargs

    def _catalog(self, request) -> RuleCatalog:
        if not hasattr(request, "_segcampaign_rule_catalog"):
            request._segcampaign_rule_catalog = RuleCatalog.load()
        return request._segcampaign_rule_catalog

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the rules: the beat entry follows the campaign as saved.
        services.campaign_schedule_sync(campaign=form.instance)

    # -- URLs

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/audience/", view(self.audience_view), name="%s_%s_audience" % info),
            path("<path:object_id>/status/", view(self.status_view), name="%s_%s_status" % info),
            path("<path:object_id>/launch/", view(self.launch_view), name="%s_%s_launch" % info),
            path("<path:object_id>/pause/", view(self.pause_view), name="%s_%s_pause" % info),
            path("<path:object_id>/resume/", view(self.resume_view), name="%s_%s_resume" % info),
            *super().get_urls(),
        ]

    def _campaign(self, request, object_id, *, change: bool) -> Campaign:
        campaign = get_object_or_404(Campaign, pk=object_id)
        allowed = self.has_change_permission(request, campaign) if change else self.has_view_permission(
            request, campaign)
        if not allowed:
            raise PermissionDenied
        return campaign

    def _url(self, name: str, campaign: Campaign) -> str:
        return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])

    # -- the change page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        extra = {"condition_fields": condition_fields()}
        if campaign is not None:
            extra.update(self._page(request, campaign))
        return super().change_view(request, object_id, form_url, extra_context={**(extra_context or {}), **extra})

    def add_view(self, request, form_url="", extra_context=None):
        extra = {"condition_fields": condition_fields()}
        return super().add_view(request, form_url, extra_context={**(extra_context or {}), **extra})

    def _page(self, request, campaign: Campaign) -> dict:
        latest = campaign.runs.order_by("-pk").first()
        may_change = self.has_change_permission(request, campaign)
        context = {
            "campaign": campaign,
            "campaign_badge": campaign_badge(campaign),
            "status_help": CAMPAIGN_STATUS_HELP.get(campaign.status, ""),
            "schedule_words": schedule_in_words(schedule_at=campaign.schedule_at, schedule_cron=campaign.schedule_cron),
            "audience_url": self._url("audience", campaign),
            "may_change": may_change,
            "launch_url": self._url("launch", campaign) if campaign.status != Campaign.Status.PAUSED else None,
            "pause_url": self._url("pause", campaign) if campaign.status in (
                Campaign.Status.SCHEDULED, Campaign.Status.RUNNING) else None,
            "resume_url": self._url("resume", campaign) if campaign.status == Campaign.Status.PAUSED else None,
            "run_rows": runs.run_rows(campaign),
            "messages_url": admin_url("campaigns_message_changelist"),
        }
        if latest is not None:
            context.update(runs.progress_context(latest, self._url("status", campaign)))
        return context

    def status_view(self, request, object_id):
        """The latest run's progress, for the campaign page's progress bar."""
        campaign = self._campaign(request, object_id, change=False)
        latest = campaign.runs.order_by("-pk").first()
        if latest is None:
            return JsonResponse({"id": None, "campaign_status": campaign.status, "done": True})
        return JsonResponse(runs.progress(latest))

    # -- the audience preview

    def audience_view(self, request, object_id):
        campaign = self._campaign(request, object_id, change=False)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "campaign": campaign,
            "title": f"Who {campaign.name} would reach now",
            "change_url": self._url("change", campaign),
            "launch_url": self._url("launch", campaign) if self.has_change_permission(request, campaign)
            and campaign.status != Campaign.Status.PAUSED else None,
        }
        try:
            planned = services.campaign_plan(campaign=campaign)
        except services.CampaignError as exc:
            context["error"] = str(exc)
        else:
            context["plan"] = audience_plan(planned)
        return TemplateResponse(request, "admin/campaigns/campaign/audience.html", context)

    # -- launch, pause, resume

    def _confirm(self, request, campaign: Campaign, *, action: str, title: str, paragraphs: list[str]):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "campaign": campaign,
            "title": title,
            "action": action,
            "paragraphs": paragraphs,
            "change_url": self._url("change", campaign),
            "audience_url": self._url("audience", campaign),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm.html", context)

    def launch_view(self, request, object_id):
        campaign = self._campaign(request, object_id, change=True)
        change_url = self._url("change", campaign)
        if request.method != "POST":
            busy = campaign.status == Campaign.Status.RUNNING or campaign.runs.filter(
                status__in=jobs.UNFINISHED).exists()
            paragraphs = [
                f"Launching plans a run of {campaign.name} now: every customer who matches its rules at this moment "
                "is chosen, the skipped ones are counted with their reasons, and the messages are sent (those for "
                "customers in their quiet hours wait for the morning).",
                f"{campaign.holdout_percent}% of each segment's customers are held out and get nothing.",
            ]
            if busy:
                paragraphs.append("A run of this campaign is still sending. A new run sends to the customers who "
                                  "match now as well; the frequency cap counts the messages of both.")
            return self._confirm(request, campaign, action="Launch", title=f"Launch {campaign.name}?",
                                 paragraphs=paragraphs)
        run = None
        try:
            # The run is handed to a worker when this block commits; with no broker it runs right
            # there, so the campaign's page then shows a finished run.
            with transaction.atomic():
                run = tasks.campaign_run_queue(campaign=campaign, triggered_by="admin")
        except services.CampaignError as exc:
            messages.error(request, f"Not launched: {exc}")
            return HttpResponseRedirect(change_url)
        except Exception as exc:
            if run is None:
                raise
            logger.exception("campaign run %s could not be run or queued", run.pk)
            messages.error(request, f"Run {run.pk} went wrong: {exc}")
            return HttpResponseRedirect(reverse("admin:campaigns_campaignrun_change", args=[run.pk]))
        run.refresh_from_db()
        if run.status in jobs.UNFINISHED:
            messages.info(request, f"Run {run.pk} is queued: a worker plans it and sends its messages. This page "
                                   "follows its progress.")
        elif run.status == run.Status.FAILED:
            messages.error(request, f"Run {run.pk} failed: {run.error}")
        else:
            done = runs.progress(run)
            messages.success(request, f"Run {run.pk} is launched: {done['to_send']:,} messages to send, "
                                      f"{done['sent']:,} sent so far, {done['holdout']:,} customers held out.")
        return HttpResponseRedirect(change_url)

    def pause_view(self, request, object_id):
        campaign = self._campaign(request, object_id, change=True)
        if request.method != "POST":
            return self._confirm(request, campaign, action="Pause", title=f"Pause {campaign.name}?", paragraphs=[
                "Pausing stops the sending: messages not sent yet wait, and the schedule waits too. Nothing is lost; "
                "resume to go on where it stopped.",
            ])
        services.campaign_pause(campaign=campaign)
        messages.success(request, f"{campaign.name} is paused: nothing more is sent until you resume it.")
        return HttpResponseRedirect(self._url("change", campaign))

    def resume_view(self, request, object_id):
        campaign = self._campaign(request, object_id, change=True)
        if request.method != "POST":
            return self._confirm(request, campaign, action="Resume", title=f"Resume {campaign.name}?", paragraphs=[
                "Resuming goes on where the campaign stopped: the messages that were waiting are sent (those for "
                "customers in their quiet hours wait for the morning), and its schedule runs again.",
            ])
        with transaction.atomic():
            waiting = tasks.campaign_resume_queue(campaign=campaign)
        if waiting:
            runs_ = ", ".join(map(str, waiting))
            messages.success(request, f"{campaign.name} is resumed: the messages waiting in run {runs_} are being "
                                      "sent (those in their quiet hours wait for the morning).")
        else:
            messages.success(request, f"{campaign.name} is resumed. {CAMPAIGN_STATUS_HELP[campaign.status]}")
        return HttpResponseRedirect(self._url("change", campaign))


def audience_plan(planned) -> dict:
    """The dry run's tables, with each rule in words and each template's count per rule."""
    summary = services.plan_summary(planned)
    by_variant = planned.plan.summary.get("by_variant", {})
    ordered = sorted(planned.rules.values(), key=lambda r: (r.priority, r.pk))
    variant_rows = [
        (f"rule {rule.priority}: {v.template.name} (weight {v.weight})", by_variant.get(str(v.pk), 0))
        for rule in ordered for v in rule.variants.all()
    ]
    rule_labels = {f"rule {rule.priority}": rule_in_words(rule) for rule in ordered}
    return plans.context(summary, launched=False, rule_labels=rule_labels, variant_rows=variant_rows)

