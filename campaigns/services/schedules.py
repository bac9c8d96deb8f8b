"""Schedules, pausing and resuming: django-celery-beat entries kept in step with the campaign.

A marketer schedules, pauses and resumes in the campaign's admin page; beat (the database
scheduler) triggers the run. A schedule is once (`schedule_at`) or cron-like (`schedule_cron`,
in the shop's time zone).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from campaigns.models import Campaign

SCHEDULED_TASK = "campaigns.tasks.campaign_scheduled_task"


def campaign_schedule_sync(*, campaign: Campaign) -> PeriodicTask | None:
    """Create, change or remove the campaign's beat entry to match its schedule and status."""
    with transaction.atomic():
        task = campaign.periodic_task
        if not (campaign.schedule_at or campaign.schedule_cron) or campaign.status == Campaign.Status.DONE and not (
            campaign.schedule_cron
        ):
            if task is not None:
                Campaign.objects.filter(pk=campaign.pk).update(periodic_task=None)
                campaign.periodic_task = None
                task.delete()
            if campaign.status == Campaign.Status.SCHEDULED and not (campaign.schedule_at or campaign.schedule_cron):
                # Nothing will run it any more: it waits to be launched by hand, as a draft.
                Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SCHEDULED).update(
                    status=Campaign.Status.DRAFT)
                campaign.status = Campaign.Status.DRAFT
            return None
        task = task or PeriodicTask(task=SCHEDULED_TASK)
        task.name = f"Campaign {campaign.pk}: {campaign.name}"[:200]
        task.kwargs = json.dumps({"campaign_id": campaign.pk})
        task.enabled = campaign.status != Campaign.Status.PAUSED
        task.description = "Runs the campaign (kept in step with the campaign's schedule; edit it there)."
        if campaign.schedule_cron:
            minute, hour, day_of_month, month_of_year, day_of_week = campaign.schedule_cron.split()
            task.crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                day_of_week=day_of_week, timezone=settings.TIME_ZONE,
            )
            task.clocked, task.one_off = None, False
        else:
            task.clocked, _ = ClockedSchedule.objects.get_or_create(clocked_time=campaign.schedule_at)
            task.crontab, task.one_off = None, True
        task.save()
        if campaign.periodic_task_id != task.pk:
            Campaign.objects.filter(pk=campaign.pk).update(periodic_task=task)
            campaign.periodic_task = task
        if campaign.status == Campaign.Status.DRAFT:
            Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
            campaign.status = Campaign.Status.SCHEDULED
        return task


def campaign_pause(*, campaign: Campaign) -> None:
    """Stop sending: queued messages wait (workers leave them), and the schedule is held."""
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    campaign.status = Campaign.Status.PAUSED
    if campaign.periodic_task_id:
        PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=False)


def campaign_resume(*, campaign: Campaign, unfinished: bool) -> None:
    """Go on where it stopped: running when a run has messages left, else back to its schedule."""
    if unfinished:
        status = Campaign.Status.RUNNING
    elif campaign.schedule_at or campaign.schedule_cron:
        status = Campaign.Status.SCHEDULED
    else:
        status = Campaign.Status.DRAFT
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.status = status
    if campaign.periodic_task_id:
        PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=True)
