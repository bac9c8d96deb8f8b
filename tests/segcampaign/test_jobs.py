"""The one lifecycle of long work: claim, heartbeat, progress, finish, fail, stale."""

import datetime as dt
import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from segcampaign import jobs
from segments.models import ImportJob, SegmentationRun


def a_job(**fields):
    return ImportJob.objects.create(kind=ImportJob.Kind.CUSTOMERS, file="imports/x.csv", **fields)


def ago(seconds):
    return timezone.now() - dt.timedelta(seconds=seconds)


@pytest.mark.django_db
def test_a_queued_job_is_claimed_once():
    job = a_job()

    first = jobs.job_claim(ImportJob, pk=job.pk)
    second = jobs.job_claim(ImportJob, pk=job.pk)

    assert first.status == "running" and first.attempts == 1
    assert first.started_at is not None and first.heartbeat_at == first.started_at
    assert second is None


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_finished_job_is_never_claimed_again(status):
    job = a_job(status=status)

    assert jobs.job_claim(ImportJob, pk=job.pk, reclaim_stale=True) is None


@pytest.mark.django_db
def test_a_running_job_whose_worker_died_is_taken_over_only_when_asked(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = a_job(status="running", started_at=ago(600), heartbeat_at=ago(61), attempts=1)

    assert jobs.job_claim(ImportJob, pk=job.pk) is None
    taken = jobs.job_claim(ImportJob, pk=job.pk, reclaim_stale=True)

    assert taken.status == "running" and taken.attempts == 2
    assert taken.heartbeat_at > ago(5)


@pytest.mark.django_db
def test_a_long_job_that_still_beats_is_not_stale(settings):
    # Started hours ago but beating: a genuinely long run, never mistaken for a dead one.
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = a_job(status="running", started_at=ago(5 * 3600), heartbeat_at=ago(30))

    assert not job.is_stale()
    assert jobs.job_claim(ImportJob, pk=job.pk, reclaim_stale=True) is None
    assert jobs.jobs_fail_stale(ImportJob) == 0


@pytest.mark.django_db
def test_stale_jobs_are_failed_with_the_reason_and_live_ones_left_alone(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    dead = a_job(status="running", started_at=ago(300), heartbeat_at=ago(120))
    alive = a_job(status="running", started_at=ago(300), heartbeat_at=ago(10))
    queued = a_job()

    assert jobs.jobs_fail_stale(ImportJob) == 1

    dead.refresh_from_db(), alive.refresh_from_db(), queued.refresh_from_db()
    assert dead.status == "failed" and "no sign of life for 60 seconds" in dead.error
    assert dead.is_stale() is False and dead.finished_at is not None
    assert (alive.status, queued.status) == ("running", "queued")


@pytest.mark.django_db
def test_finishing_does_not_overwrite_a_job_failed_meanwhile():
    job = jobs.job_claim(ImportJob, pk=a_job().pk)
    jobs.job_fail_by_hand(job, who="ops")

    jobs.job_finish(job, rows_processed=10)

    job.refresh_from_db()
    assert job.status == "failed" and "failed by hand by ops" in job.error
    assert job.rows_processed == 0


@pytest.mark.django_db
def test_failing_by_hand_only_ends_unfinished_jobs():
    done = a_job(status="succeeded")
    running = jobs.job_claim(ImportJob, pk=a_job().pk)

    assert jobs.job_fail_by_hand(done, who="ops") is False
    assert jobs.job_fail_by_hand(running, who="ops") is True


@pytest.mark.django_db(transaction=True)  # on PostgreSQL the heartbeat's own connection writes it
def test_progress_times_each_stage_by_its_key_and_tells_the_listener():
    job = jobs.job_claim(ImportJob, pk=a_job().pk)
    heard = []

    with jobs.job_running(job, listener=lambda stage, percent: heard.append((stage, percent))) as progress:
        progress.stage("read", percent=10)
        time.sleep(0.01)
        progress.stage("write", percent=60)
        progress.update(rows_processed=5)
    timings = progress.close()

    assert heard == [("read", 10), ("write", 60)]
    assert set(timings) == {"read", "write", "total"}
    assert timings["read"] >= 0.01
    assert timings["total"] == pytest.approx(timings["read"] + timings["write"], abs=0.002)
    job.refresh_from_db()
    assert (job.stage, job.percent, job.rows_processed) == ("write", 60, 5)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_shows_at_once_even_inside_the_works_transaction():
    job = jobs.job_claim(ImportJob, pk=a_job().pk)
    observer = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with jobs.job_running(job) as progress, transaction.atomic():
            progress.update(rows_processed=42, percent=30)
            with observer.cursor() as cursor:
                cursor.execute("SELECT rows_processed, percent FROM segments_importjob WHERE id = %s", [job.pk])
                seen = cursor.fetchone()
    finally:
        observer.close()

    assert seen == (42, 30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_goes_on_while_the_work_is_busy(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = jobs.job_claim(ImportJob, pk=a_job().pk)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=ago(3600))

    with jobs.job_running(job):
        time.sleep(0.6)  # busy: no progress reported
        beat = ImportJob.objects.get(pk=job.pk).heartbeat_at

    assert beat > ago(2)


@pytest.mark.django_db
def test_a_broker_that_refuses_the_task_fails_the_job_with_the_reason(django_capture_on_commit_callbacks):
    class Refusing:
        def delay(self, **kwargs):
            raise ConnectionRefusedError("broker down")

    run = SegmentationRun.objects.create()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_enqueue(run, Refusing(), run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "failed" and "could not reach the task queue: broker down" in run.error


@pytest.mark.django_db
def test_a_running_job_says_how_long_until_it_is_stale(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    now = timezone.now()

    beating = a_job(status="running", heartbeat_at=now - dt.timedelta(seconds=20))
    silent = a_job(status="running", heartbeat_at=now - dt.timedelta(seconds=90))

    assert beating.stale_in(now=now) == pytest.approx(40)
    assert silent.stale_in(now=now) == 0
    assert a_job().stale_in(now=now) == 0


@pytest.mark.django_db
def test_a_job_is_released_only_by_the_claim_running_it():
    job = jobs.job_claim(ImportJob, pk=a_job().pk)
    taken_over = ImportJob.objects.get(pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(attempts=2)  # another worker took it over

    assert jobs.job_release(job) is False
    ImportJob.objects.filter(pk=job.pk).update(attempts=1)
    assert jobs.job_release(taken_over) is True
    assert ImportJob.objects.get(pk=job.pk).status == "queued"
    assert jobs.job_claim(ImportJob, pk=job.pk).attempts == 2


@pytest.mark.django_db
def test_stale_jobs_go_back_to_the_queue_until_they_were_started_too_often(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    dead = a_job(status="running", attempts=1, heartbeat_at=ago(120), percent=40, stage="write")
    dead_again = a_job(status="running", attempts=3, heartbeat_at=ago(120))
    alive = a_job(status="running", attempts=1, heartbeat_at=ago(10))

    requeued = jobs.jobs_requeue_stale(ImportJob, max_attempts=3)

    assert [job.pk for job in requeued] == [dead.pk]
    assert (requeued[0].status, requeued[0].percent, requeued[0].stage) == ("queued", 0, "")
    dead_again.refresh_from_db(), alive.refresh_from_db()
    assert dead_again.status == "failed" and "its worker stopped 3 times" in dead_again.error
    assert alive.status == "running"
