"""The segmentation task on a real Celery worker with Redis, as beat would trigger it."""

import json
import time

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from segcampaign.celery import app
from segments import services, tasks
from segments.models import Membership, SegmentationRun

from .conftest import make_shop


@pytest.fixture
def real_worker(redis_broker):
    """A Celery worker thread consuming from Redis; the test talks to it only through the broker."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(redis_broker, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_segmentation_runs_on_a_real_worker(real_worker):
    make_shop()
    crontab = CrontabSchedule.objects.create(minute="0", hour="3")
    # Not the migration's "Nightly re-segmentation", which exists when this is the first test to run.
    periodic = PeriodicTask.objects.create(
        name="Re-segmentation at three",
        task="segments.tasks.scheduled_segmentation_task",
        crontab=crontab,
        kwargs=json.dumps({"k": 3}),
    )

    # What beat does when the crontab fires: send the task by name with its stored kwargs.
    app.send_task(periodic.task, kwargs=json.loads(periodic.kwargs))

    run = wait_for(lambda: SegmentationRun.objects.filter(status__in=["succeeded", "failed"]).first())
    assert run.status == "succeeded", run.error
    assert run.triggered_by == "schedule"
    assert run.k == 3
    assert Membership.objects.filter(ended_run__isnull=True).count() == 60


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_queued_run_is_executed_by_the_worker_after_commit(real_worker):
    make_shop()

    run = tasks.segmentation_run_queue(k=3, triggered_by="admin")

    wait_for(lambda: SegmentationRun.objects.get(pk=run.pk).status in {"succeeded", "failed"})
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.percent == 100


@pytest.mark.django_db
def test_an_eager_task_that_finds_a_run_in_progress_records_why_it_did_not_start():
    make_shop()
    holder = services.segmentation_run_create()
    SegmentationRun.objects.filter(pk=holder.pk).update(
        status="running", started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    waiting = services.segmentation_run_create()

    outcome = tasks.segmentation_run_task.apply(kwargs={"run_id": waiting.pk}).get()

    waiting.refresh_from_db()
    assert outcome == "skipped"
    assert waiting.status == "failed"
    assert f"run {holder.pk} is still running" in waiting.error


def test_a_run_the_broker_refuses_is_failed_with_the_reason(shop, monkeypatch, django_capture_on_commit_callbacks):
    def refuse(**kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.segmentation_run_task, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        queued = tasks.segmentation_run_queue(k=3)

    queued.refresh_from_db()
    assert queued.status == "failed"
    assert "broker down" in queued.error
