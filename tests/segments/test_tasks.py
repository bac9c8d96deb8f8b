"""The tasks: segmentation on a real Celery worker with Redis as beat triggers it, the import task's
retries and take-overs, the sweep of work whose worker died."""

import datetime as dt
import json
import time
from decimal import Decimal
from contextlib import contextmanager

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_retry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from kombu.utils.imports import symbol_by_name

from segcampaign import bulk
from segcampaign.celery import app
from segments import services, tasks
from segments.importing import import_job_create
from segments.importing.writing import CHUNK_ATTEMPTS
from segments.models import Customer, ImportJob, Membership, Order, SegmentationRun
from segments.tasks import import_job_task

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
def test_a_scheduled_run_whose_segments_fail_the_checks_waits_as_a_draft_and_the_segments_in_use_stay():
    make_shop(groups={"vip": 3, "lapsed": 40, "new": 2})
    live = services.segmentation_run_create(k=3, go_live="always")
    services.segmentation_run_execute(run_id=live.pk)
    members = dict(Membership.objects.filter(ended_run__isnull=True).values_list("customer_id", "segment_id"))

    outcome = tasks.scheduled_segmentation_task.apply(kwargs={"k": 2}).get()

    run = SegmentationRun.objects.latest()
    assert outcome == "draft"
    assert run.triggered_by == "schedule" and run.is_draft
    assert run.draft_reason.startswith("Held back by the sanity checks") and "nearly everyone" in run.draft_reason
    assert dict(Membership.objects.filter(ended_run__isnull=True).values_list("customer_id", "segment_id")) == members


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


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_import_the_database_keeps_aborting_is_retried_and_fails_as_a_database_error(eager_retries, monkeypatch):
    # The deadlock used to surface as the InternalError of a cleanup statement: "Unexpected
    # error", and the task's retry on OperationalError never fired.
    Order.objects.create(customer=Customer.objects.create(external_id="C0"), external_id="O0",
                         ordered_at=timezone.now(), amount=Decimal("1.00"))
    content = b"order_id,customer_id,ordered_at,amount\nO1,C1,2024-03-01,10.00\n"
    job = import_job_create(kind="orders", upload=SimpleUploadedFile("orders.csv", content), options={})
    real_copy = bulk.copy_rows
    attempts = []

    def deadlocked(cursor, table, *args, **options):
        if table == "_bulk_segments_order":  # inside the orders' upsert
            attempts.append(1)
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$")
        return real_copy(cursor, table, *args, **options)

    monkeypatch.setattr(bulk, "copy_rows", deadlocked)
    monkeypatch.setattr(tasks, "IMPORT_MAX_ATTEMPTS", 2)

    tasks.import_job_task.apply(kwargs={"job_id": job.pk}, throw=False)  # retries run eagerly too

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Database error: deadlock detected")
    assert len(attempts) == 2 * CHUNK_ATTEMPTS  # the task ran twice, each time trying the chunk in full


# --- The import task: retries, waiting for a worker that may be dead, the stale-job sweep ------


def queued_import(rows=3) -> ImportJob:
    content = "external_id,email\n" + "".join(f"K{n},k{n}@example.com\n" for n in range(rows))
    return import_job_create(kind="customers", upload=SimpleUploadedFile("c.csv", content.encode()), options={})


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def retries():
    """The countdown of every retry Celery records (the task_retry signal)."""
    seen = []

    def record(sender=None, reason=None, **kwargs):
        seen.append(reason.when)

    task_retry.connect(record, weak=False)
    try:
        yield seen
    finally:
        task_retry.disconnect(record)


@pytest.fixture
def eager_retries(retries):
    """Run eagerly without propagating errors, Celery runs each retry at once, as a worker
    would when its countdown is up."""
    propagates = app.conf.task_eager_propagates
    app.conf.update(task_eager_propagates=False)
    try:
        yield retries
    finally:
        app.conf.update(task_eager_propagates=propagates)


@contextmanager
def database_failing(times, error=None):
    """The database refuses statements on the customer table, the first `times` times."""
    error = error or OperationalError("server closed the connection unexpectedly")
    failures = [times]

    def refuse(execute, sql, params, many, context):
        if "segments_customer" in sql and failures[0] > 0:
            failures[0] -= 1
            raise error
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


@pytest.mark.django_db
def test_an_import_retries_after_a_database_error_and_finishes(media, eager_retries):
    job = queued_import()

    with database_failing(times=1):
        outcome = import_job_task.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert outcome == "succeeded"
    assert eager_retries == [30]
    assert (job.status, job.attempts, job.report["created"]) == ("succeeded", 2, 3)
    assert Customer.objects.count() == 3


@pytest.mark.django_db
def test_an_import_fails_with_the_reason_once_the_database_kept_failing(media, eager_retries):
    job = queued_import()

    with database_failing(times=100):
        outcome = import_job_task.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert outcome == "failed"
    assert eager_retries == [30, 60, 120]  # backing off, then the fourth attempt is the last
    assert (job.status, job.attempts) == ("failed", tasks.IMPORT_MAX_ATTEMPTS)
    assert job.error == "Database error: server closed the connection unexpectedly"


@pytest.mark.django_db
def test_an_import_over_the_soft_time_limit_fails_with_the_reason(media, settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 5400
    job = queued_import()

    with database_failing(times=1, error=SoftTimeLimitExceeded()):
        outcome = import_job_task.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert (outcome, job.status, job.attempts) == ("failed", "failed", 1)
    assert job.error.startswith("it took longer than the time limit of 90 minutes (CELERY_TASK_SOFT_TIME_LIMIT)")


@pytest.mark.django_db
def test_run_eagerly_an_import_fails_on_a_database_error_at_once(media):
    # No broker (the embedded setup): nothing would run a retry later.
    job = queued_import()

    with database_failing(times=1):
        outcome = import_job_task.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert (outcome, job.status, job.attempts) == ("failed", "failed", 1)
    assert job.error == "Database error: server closed the connection unexpectedly"


@pytest.mark.django_db
def test_a_message_that_comes_back_too_often_fails_the_job(media):
    job = queued_import()
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=tasks.IMPORT_MAX_ATTEMPTS, heartbeat_at=timezone.now() - dt.timedelta(hours=1)
    )

    outcome = import_job_task.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert (outcome, job.status, job.attempts) == ("failed", "failed", tasks.IMPORT_MAX_ATTEMPTS + 1)
    assert "its worker stopped 4 times before it finished" in job.error
    assert not Customer.objects.exists()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_message_for_an_import_still_beating_waits_and_takes_it_over_once_stale(
    media, settings, retries, real_worker
):
    # A redelivered message (its worker died a moment ago): the job is running, the heartbeat fresh.
    settings.JOB_HEARTBEAT_SECONDS, settings.JOB_STALE_AFTER_SECONDS = 1, 3
    job = queued_import()
    ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=timezone.now())

    import_job_task.delay(job_id=job.pk)

    wait_for(lambda: ImportJob.objects.get(pk=job.pk).status in {"succeeded", "failed"})
    job.refresh_from_db()
    assert 2 < retries[0] <= 4  # until it is stale (3 s), and one beat more
    assert (job.status, job.attempts, job.report["created"]) == ("succeeded", 2, 3)


@pytest.mark.django_db
def test_a_message_for_a_finished_import_does_nothing(media):
    job = queued_import()
    ImportJob.objects.filter(pk=job.pk).update(status="succeeded")

    assert import_job_task.apply(kwargs={"job_id": job.pk}).get() == "skipped"
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_the_sweep_starts_a_dead_import_again_and_fails_a_dead_run(media, settings, django_capture_on_commit_callbacks):
    settings.JOB_STALE_AFTER_SECONDS = 60
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    job = queued_import()
    ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=long_ago)
    run = SegmentationRun.objects.create(status="running", heartbeat_at=long_ago)

    # No broker in the tests: the import handed back runs at once.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.stale_work_fail_task() == 2

    job.refresh_from_db(), run.refresh_from_db()
    assert (job.status, job.attempts, job.report["created"]) == ("succeeded", 2, 3)
    assert run.status == "failed" and "no sign of life for 60 seconds" in run.error


@pytest.mark.django_db
def test_the_sweep_fails_an_import_whose_worker_died_every_time(media, settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = queued_import()
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=tasks.IMPORT_MAX_ATTEMPTS, heartbeat_at=timezone.now() - dt.timedelta(minutes=5)
    )

    assert tasks.stale_work_fail_task() == 0

    job.refresh_from_db()
    assert job.status == "failed"
    assert "its worker stopped 4 times before it finished" in job.error


@pytest.mark.django_db(transaction=True)  # the scheduler closes connections it finds in a transaction
@pytest.mark.parametrize(
    ("name", "task", "seconds"),
    [
        ("fail-stale-work", "segments.tasks.stale_work_fail_task", 60),
        ("delete-old-uploads", "segments.tasks.import_uploads_expire_task", 3600),
    ],
)
def test_beat_with_the_database_scheduler_runs_the_housekeeping(name, task, seconds):
    scheduler_class = symbol_by_name(app.conf.beat_scheduler)

    scheduler = scheduler_class(app=app)  # what `celery -A segcampaign beat` builds at start

    entry = scheduler.schedule[name]
    stored = PeriodicTask.objects.get(name=name)
    assert scheduler_class is DatabaseScheduler
    assert entry.task == stored.task == task
    assert entry.schedule.run_every == dt.timedelta(seconds=seconds)
    assert stored.enabled and (stored.interval.every, stored.interval.period) == (seconds, "seconds")
