"""Schedules kept in step with beat."""

from django_celery_beat.models import PeriodicTask

from campaigns import services
from campaigns.models import Campaign

from ..conftest import definition


def test_a_campaign_whose_schedule_is_removed_is_a_draft_again_without_a_beat_entry(segmented):
    campaign = services.campaign_load(data=definition(segmented, schedule={"cron": "0 9 * * 1"}))
    entry = campaign.periodic_task_id
    assert campaign.status == Campaign.Status.SCHEDULED

    campaign.schedule_cron = ""
    campaign.save()
    services.campaign_schedule_sync(campaign=campaign)

    assert campaign.status == Campaign.Status.DRAFT
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT
    assert not PeriodicTask.objects.filter(pk=entry).exists()


def test_a_paused_campaign_stays_paused_when_its_schedule_is_removed(segmented):
    campaign = services.campaign_load(data=definition(segmented, schedule={"cron": "0 9 * * 1"}))
    services.campaign_pause(campaign=campaign)

    campaign.schedule_cron = ""
    campaign.save()
    services.campaign_schedule_sync(campaign=campaign)

    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED
