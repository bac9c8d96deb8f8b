"""Campaign tasks on a real Celery worker with Redis: a launch queued through the broker, a
second sender racing it, a redelivered task, and the beat entries of a schedule."""

import json
import threading
import time

import pytest
import redis
from django.core import mail
from django.db import connection
from django_celery_beat.models import PeriodicTask

from campaigns import services, tasks
from campaigns.models import Campaign, Message
from segcampaign.celery import app
from tests.segments.test_tasks import real_worker, wait_for  # noqa: F401  (the fixture)

from .conftest import definition


@pytest.fixture
def sending(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.CAMPAIGN_BATCH_SIZE = 10


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_launch_through_the_broker_sends_every_message_exactly_once_beside_a_second_sender(
    segmented, real_worker, sending, redis_url  # noqa: F811
):
    campaign = services.campaign_load(data=definition(segmented))
    stop = threading.Event()
    rival_sent = []

    def rival():  # a second worker draining the same outbox
        try:
            while not stop.is_set():
                for run in campaign.runs.filter(status="succeeded"):
                    rival_sent.append(services.run_batch_send(run_id=run.pk).sent)
                stop.wait(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=rival)
    thread.start()
    try:
        run = tasks.campaign_run_queue(campaign=campaign, triggered_by="test")
        wait_for(lambda: Message.objects.filter(run=run, status="sent").count() == 60)
    finally:
        stop.set()
        thread.join()

    ids = [m.metadata["message_id"] for m in mail.outbox]
    assert len(ids) == len(set(ids)) == 60
    assert sum(rival_sent) < 60  # the broker's worker sent its share too
    # A redelivered send task finds nothing left to send.
    app.send_task("campaigns.tasks.campaign_send_task", kwargs={"run_id": run.pk})
    queue = redis.Redis.from_url(redis_url)
    wait_for(lambda: queue.llen("celery") == 0)
    time.sleep(1)  # the worker has taken it; let it run
    assert wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == "done")
    assert len(mail.outbox) == 60


@pytest.mark.django_db
def test_pausing_and_resuming_keep_the_beat_entry_in_step(segmented):
    campaign = services.campaign_load(data=definition(segmented, schedule={"at": "2030-01-01T09:00"}))
    entry = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert entry.one_off and entry.clocked is not None and entry.enabled

    services.campaign_pause(campaign=campaign)
    paused = PeriodicTask.objects.get(pk=entry.pk).enabled
    services.campaign_resume(campaign=campaign, unfinished=False)

    assert paused is False and PeriodicTask.objects.get(pk=entry.pk).enabled
    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"
    campaign.refresh_from_db()
    campaign.schedule_at = None
    services.campaign_schedule_sync(campaign=campaign)
    assert not PeriodicTask.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_the_beat_entry_runs_the_campaign(segmented, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    campaign = services.campaign_load(data=definition(segmented, schedule={"cron": "0 9 * * *"}))
    entry = PeriodicTask.objects.get(pk=campaign.periodic_task_id)

    # What beat does when the entry is due: send its task with its stored kwargs (eager here).
    app.tasks[entry.task].apply(kwargs=json.loads(entry.kwargs))

    assert len(mail.outbox) == 60
    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"  # and waits for tomorrow at 9
