"""Every Celery task of the campaigns app, and the functions that queue them.

A launch plans the run and writes its outbox (campaign_run_task), then queues one send task per
batch of due messages (never one task per message). Beat runs campaign_dispatch_task every
minute: it queues tasks for messages that became due (quiet hours over, retries), marks
messages a dead worker left `sending` as unknown, and settles finished runs. Every delay stays
far below the broker's visibility timeout: deferred messages wait in the database, not in
the broker.
"""

from __future__ import annotations

import math

from celery import shared_task
from django.conf import settings
from django.db import transaction

from campaigns import selectors, services
from campaigns.models import Campaign, CampaignRun
from segcampaign import jobs


def campaign_run_queue(*, campaign: Campaign, triggered_by: str = "") -> CampaignRun:
    """Create a run of the campaign and hand it to a worker once the transaction commits."""
    run = services.campaign_run_create(campaign=campaign, triggered_by=triggered_by)
    jobs.job_enqueue(run, campaign_run_task, run_id=run.pk)
    return run


def campaign_resume_queue(*, campaign: Campaign) -> list[int]:
    """Resume a paused campaign and queue the sends its runs have left, once the transaction
    commits (the minute's dispatch would find them too, a minute later); returns those runs."""
    runs = selectors.runs_with_unsent_messages(campaign=campaign)
    services.campaign_resume(campaign=campaign, unfinished=bool(runs))
    for run_id in runs:
        transaction.on_commit(lambda run_id=run_id: sends_queue(run_id=run_id))
    return runs


def sends_queue(*, run_id: int) -> int:
    """Queue one send task per batch of the run's due messages; returns how many."""
    batches = math.ceil(services.messages_due(run_id=run_id) / settings.CAMPAIGN_BATCH_SIZE)
    for _ in range(batches):
        campaign_send_task.delay(run_id=run_id)
    return batches


@shared_task
def campaign_run_task(*, run_id: int) -> str:
    """Plan the run, write its outbox, queue its sends."""
    run = services.campaign_run_execute(run_id=run_id)
    if run is None:
        return "skipped"  # another worker has it, or it is over
    if run.status == CampaignRun.Status.SUCCEEDED:
        sends_queue(run_id=run.pk)
    return run.status


@shared_task
def campaign_send_task(*, run_id: int) -> dict:
    """Claim and send one batch of the run's due messages (nothing when others took them)."""
    outcome = services.run_batch_send(run_id=run_id)
    if not outcome.paused:
        services.campaign_run_settle(run=CampaignRun.objects.select_related("campaign").get(pk=run_id))
    return vars(outcome)


@shared_task
def campaign_scheduled_task(*, campaign_id: int) -> str:
    """What beat runs for a scheduled campaign."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status == Campaign.Status.PAUSED:
        return "paused"
    run = services.campaign_run_create(campaign=campaign, triggered_by="schedule")
    return campaign_run_task(run_id=run.pk)


@shared_task
def campaign_dispatch_task() -> int:
    """Every minute: queue sends for messages that became due, surface lost ones, settle runs."""
    jobs.jobs_fail_stale(CampaignRun)
    services.messages_mark_unknown()
    queued = 0
    for run in CampaignRun.objects.filter(
        campaign__status=Campaign.Status.RUNNING, status=CampaignRun.Status.SUCCEEDED
    ).select_related("campaign"):
        if not services.campaign_run_settle(run=run):
            queued += sends_queue(run_id=run.pk)
    return queued
