"""Campaign runs: plan who gets what (or why not), write the outbox, settle when all is sent.

Planning reads the segments app through its selectors only: the current members of each rule's
segments who pass its conditions (compiled to a query), their contacts, and the shop's RFM
edges. The decisions themselves are campaigns.planning's (pure).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.utils import timezone

from campaigns import planning
from campaigns.models import Campaign, CampaignRun, Message, Rule, Suppression
from segcampaign import jobs
from segcampaign.dbframes import db_datetime, read_frame
from segments import selectors

from . import outbox

STAGES = {
    "plan": "Choosing recipients",
    "write": "Writing the outbox",
}
# Statuses that count against the frequency cap: every message that went, or is about to go.
_COUNTED = [Message.Status.PENDING, Message.Status.CLAIMED, Message.Status.SENDING, Message.Status.SENT,
            Message.Status.UNKNOWN]


class CampaignError(ValueError):
    """The campaign cannot run as it stands; the message says what to change."""


@dataclass
class PlannedRun:
    plan: planning.Plan
    segments: dict[int, str]  # id -> name, for the summary
    rules: dict[int, Rule]


def campaign_plan(*, campaign: Campaign, now: dt.datetime | None = None, seed: int = 0) -> PlannedRun:
    """Decide every recipient of one run of the campaign, or why not; writes nothing."""
    now = now or timezone.now()
    rules = list(campaign.rules.prefetch_related("segments", "variants__template").order_by("priority", "id"))
    if not rules:
        raise CampaignError(f"campaign {campaign.name!r} has no rules: add one that names segments and a template")
    specs, matched = [], []
    for rule in rules:
        variants = tuple((v.pk, v.weight) for v in rule.variants.all())
        if not variants:
            raise CampaignError(f"rule {rule.priority} of {campaign.name!r} has no template")
        segment_ids = [s.pk for s in rule.segments.all()]
        specs.append(planning.RuleSpec(rule_id=rule.pk, priority=rule.priority, channel=rule.channel,
                                       variants=variants))
        found = selectors.audience_frame(segment_ids=segment_ids, conditions=rule.conditions)
        matched.append(found.assign(rule_id=rule.pk))
    matches = pd.concat(matched, ignore_index=True)
    all_segments = sorted({s.pk for rule in rules for s in rule.segments.all()})
    contacts = selectors.contacts_frame(segment_ids=all_segments)
    channels = {rule.channel for rule in rules}
    suppressed = {
        channel: list(Suppression.objects.filter(channel=channel).values_list("address", flat=True))
        for channel in channels
    }
    result = planning.plan_run(
        matches=matches,
        rules=specs,
        contacts=contacts,
        suppressed=suppressed,
        recent_messages=_recent_messages(campaign, now),
        settings=planning.PlanSettings(
            now=now,
            holdout_percent=campaign.holdout_percent,
            quiet_start=campaign.quiet_start,
            quiet_end=campaign.quiet_end,
            frequency_cap=campaign.frequency_cap_messages,
            default_time_zone=settings.TIME_ZONE,
            seed=seed,
        ),
    )
    segments = {pk: segment.name for pk, segment in selectors.segments_by_id(all_segments).items()}
    return PlannedRun(plan=result, segments=segments, rules={rule.pk: rule for rule in rules})


def _recent_messages(campaign: Campaign, now: dt.datetime) -> pd.Series:
    """customer id -> messages in the frequency cap's window, across all campaigns and channels."""
    if campaign.frequency_cap_messages is None:
        return pd.Series(dtype="int64")
    since = now - dt.timedelta(days=campaign.frequency_cap_days)
    statuses = ", ".join(f"'{status}'" for status in _COUNTED)
    frame = read_frame(
        f"SELECT customer_id, COUNT(*) FROM {outbox.TABLE} WHERE created_at >= %s AND status IN ({statuses}) "
        "GROUP BY customer_id",
        [db_datetime(since)],
        columns=["customer_id", "messages"],
    )
    return frame.astype("int64").set_index("customer_id")["messages"]


def plan_summary(planned: PlannedRun) -> dict:
    """The plan's counts with names a person reads (segment and template names, skip reasons)."""
    summary = dict(planned.plan.summary)
    variants = {v.pk: v.template.name for rule in planned.rules.values() for v in rule.variants.all()}
    summary["by_segment"] = {
        planned.segments.get(int(pk), f"segment {pk}"): counts for pk, counts in summary["by_segment"].items()
    }
    summary["by_rule"] = {f"rule {planned.rules[int(pk)].priority}": n for pk, n in summary["by_rule"].items()}
    summary["by_variant"] = {variants.get(int(pk), f"variant {pk}"): n for pk, n in summary["by_variant"].items()}
    summary["skip_reasons"] = planning.SKIP_LABELS
    return summary


def campaign_run_create(*, campaign: Campaign, triggered_by: str = "") -> CampaignRun:
    if campaign.status == Campaign.Status.PAUSED:
        raise CampaignError(f"campaign {campaign.name!r} is paused: resume it first")
    return CampaignRun.objects.create(campaign=campaign, triggered_by=triggered_by)


def campaign_run_execute(*, run_id: int) -> CampaignRun | None:
    """Plan a queued run and write its outbox; None when another worker has it.

    Launching the same run twice creates nothing new: the job is claimed once, and an outbox
    already written (by a launch that crashed after committing it) is not written again.
    """
    run = jobs.job_claim(CampaignRun, pk=run_id, reclaim_stale=True)
    if run is None:
        return None
    campaign = run.campaign
    try:
        with jobs.job_running(run) as progress:
            progress.stage("plan", percent=5)
            planned = campaign_plan(campaign=campaign, seed=run.pk)
            summary = plan_summary(planned)
            summary["rfm_edges"] = selectors.rfm_score_edges()
            progress.stage("write", percent=60)
            written = outbox.outbox_write(run=run, plan=planned.plan)
    except CampaignError as exc:
        jobs.job_fail(run, error=str(exc))
        return run
    except Exception as exc:
        jobs.job_fail(run, error=f"internal error: {exc.__class__.__name__}: {exc}")
        raise
    latest = selectors.latest_successful_run()
    Campaign.objects.filter(pk=campaign.pk).exclude(status=Campaign.Status.PAUSED).update(
        status=Campaign.Status.RUNNING
    )
    jobs.job_finish(
        run, plan=summary, messages_planned=written or run.messages.count(), segmentation_run=latest,
        timings=progress.close(),
    )
    return run


def campaign_run_settle(*, run: CampaignRun) -> bool:
    """When nothing of the run is left to send, the campaign is done (or waits for its next
    scheduled run); True when the run is settled."""
    if outbox.messages_unfinished(run_id=run.pk):
        return False
    campaign = Campaign.objects.get(pk=run.campaign_id)
    after = Campaign.Status.SCHEDULED if campaign.schedule_cron else Campaign.Status.DONE
    # Only a running campaign: a paused one stays paused, a newer run may be under way.
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).exclude(
        runs__status__in=jobs.UNFINISHED
    ).update(status=after)
    return True
