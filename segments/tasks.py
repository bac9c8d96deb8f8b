"""Every Celery task of the segments app, and the functions that queue them.

A task fetches its job by id, calls one service and owns its retries; the job lifecycle
(claim, heartbeat, finish, fail, stale) is segcampaign.jobs'. Queue work with the `*_queue`
functions here: they create the job row and send the task once the transaction commits.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError, OperationalError

from segcampaign import jobs
from segments import services
from segments.importing import (
    ImportFileError,
    import_copies_expire,
    import_job_create,
    import_job_run,
    import_job_upload_delete,
    import_uploads_expire,
)
from segments.models import ImportJob, SegmentationRun

logger = logging.getLogger(__name__)


# --- Segmentation -----------------------------------------------------------------------------


def segmentation_run_queue(**request) -> SegmentationRun:
    """Create a run (`services.segmentation_run_create` arguments) and hand it to a worker."""
    run = services.segmentation_run_create(**request)
    jobs.job_enqueue(run, segmentation_run_task, run_id=run.pk)
    return run


@shared_task(bind=True, max_retries=30, default_retry_delay=60)
def segmentation_run_task(self, *, run_id: int) -> str:
    """Run a queued segmentation; wait (by retrying) while another run holds the lock."""
    try:
        run = services.segmentation_run_execute(run_id=run_id)
    except services.RunInProgress as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            services.segmentation_run_not_started(run_id=run_id, reason=str(exc))
            return "skipped"
        raise self.retry(exc=exc) from None
    except services.SegmentationError:
        # Not queued any more: a redelivered message for a run another worker has, or one
        # that has ended. Nothing to do.
        return "skipped"
    return run.status


@shared_task
def scheduled_segmentation_task(
    *, algorithm: str = "kmeans", k: int | None = None, features: list[str] | None = None, incremental: bool = False
) -> str:
    """What Celery beat runs (set up in admin: Periodic tasks). Skips, recorded, if a run is in progress.

    Its segments go live unless the sanity checks fail; then it waits as a draft ("draft")."""
    run = services.segmentation_run_create(
        algorithm=algorithm, k=k, feature_names=features or (), incremental=incremental, triggered_by="schedule"
    )
    try:
        run = services.segmentation_run_execute(run_id=run.pk)
    except services.RunInProgress as exc:
        services.segmentation_run_not_started(run_id=run.pk, reason=str(exc))
        return "skipped"
    return "draft" if run.is_draft else run.status


# --- CSV imports ------------------------------------------------------------------------------


def import_job_queue(*, kind: str, upload, options: dict, created_by=None) -> ImportJob:
    """Store an uploaded file as an import job and hand it to a worker."""
    job = import_job_create(kind=kind, upload=upload, options=options, created_by=created_by)
    jobs.job_enqueue(job, import_job_task, job_id=job.pk)
    return job


# A job is started at most this many times: the first, and again after a database error or a
# worker that died. A file that kills its worker every time (out of memory, say) must not go
# round for ever through task_reject_on_worker_lost or the stale-job sweep.
IMPORT_MAX_ATTEMPTS = 4


@shared_task(bind=True, max_retries=None)  # IMPORT_MAX_ATTEMPTS bounds the attempts, not Celery
def import_job_task(self, *, job_id: int) -> str:
    """Claim the job, run its import, record the outcome on the job.

    Upserts are idempotent and every chunk commits on its own, so a retry (or a job taken over
    after its worker died) redoes at most one chunk's work and duplicates nothing. (A first load
    into the empty order table is one transaction: a retry starts it again from an empty table.)
    """
    job = jobs.job_claim(ImportJob, pk=job_id, reclaim_stale=True)
    if job is None:
        return _import_not_claimed(self, job_id)
    outcome = _import(self, job)  # a retry raises past this, keeping the file
    # The job ended, however it went: the customer data it was given goes.
    import_job_upload_delete(job)
    return outcome


def _import(task, job: ImportJob) -> str:
    if job.attempts > IMPORT_MAX_ATTEMPTS:
        # A message redelivered after its worker died, once too often.
        jobs.job_fail(job, error=f"its worker stopped {IMPORT_MAX_ATTEMPTS} times before it finished (killed, "
                      "out of memory or the time limit): it is not started again")
        return ImportJob.Status.FAILED
    try:
        with jobs.job_running(job) as progress:
            report = import_job_run(job=job, progress=progress)
    except ImportFileError as exc:
        jobs.job_fail(job, error=str(exc), report=exc.report.as_dict() if exc.report else {})
        return ImportJob.Status.FAILED
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT / 60
        jobs.job_fail(job, error=f"it took longer than the time limit of {limit:g} minutes "
                      "(CELERY_TASK_SOFT_TIME_LIMIT); the chunks imported so far are kept")
        return ImportJob.Status.FAILED
    except OperationalError as exc:
        # Run eagerly with errors propagating (no broker: the embedded setup), a retry would
        # only reach the caller as an exception, and nothing would run it later.
        eager = task.request.is_eager and task.app.conf.task_eager_propagates
        if job.attempts < IMPORT_MAX_ATTEMPTS and not eager:
            # Back in the queue, for the retry to claim. Should the database refuse even that,
            # the retry finds the job running, waits until it is stale and takes it over.
            with suppress(DatabaseError):
                jobs.job_release(job)
            raise task.retry(exc=exc, countdown=30 * 2 ** (job.attempts - 1)) from None
        logger.exception("Import job %s failed: the database kept failing", job.pk)
        jobs.job_fail(job, error=f"Database error: {exc}")
        return ImportJob.Status.FAILED
    except Exception as exc:
        # The job page shows what went wrong; the traceback goes to the log.
        logger.exception("Import job %s failed", job.pk)
        jobs.job_fail(job, error=f"Unexpected error: {exc!r}")
        return ImportJob.Status.FAILED
    jobs.job_finish(job, report=report.as_dict(), rows_processed=report.rows)
    return ImportJob.Status.SUCCEEDED


def _import_not_claimed(task, job_id: int) -> str:
    """Another worker has the job, or this message came back after its worker died.

    A message comes back when its worker is lost (task_reject_on_worker_lost, or the broker's
    visibility timeout), while the dead worker's last heartbeat is still fresh. Acking it then
    would leave the job running for ever; so look again once the job would be stale: the claim
    takes it over if nobody beats any more, and a job that finished meanwhile ends the wait.
    """
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or not job.unfinished or task.request.is_eager:
        # Over (a redelivered message does nothing); or run eagerly, where nothing can wait.
        return "skipped"
    raise task.retry(countdown=round(job.stale_in() + settings.JOB_HEARTBEAT_SECONDS, 1))


# --- Housekeeping -----------------------------------------------------------------------------


@shared_task
def stale_work_fail_task() -> int:
    """Deal with the work whose worker died (beat runs this every minute).

    A segmentation run is failed with the reason. An import is safe to start again (upserts,
    chunk by chunk), so it goes back to a worker, at most IMPORT_MAX_ATTEMPTS starts in all.
    Returns how many runs it failed and imports it handed back.
    """
    requeued = jobs.jobs_requeue_stale(ImportJob, max_attempts=IMPORT_MAX_ATTEMPTS)
    for job in requeued:
        jobs.job_enqueue(job, import_job_task, job_id=job.pk)
    return jobs.jobs_fail_stale(SegmentationRun) + len(requeued)


@shared_task
def import_uploads_expire_task() -> int:
    """Delete uploads nobody needs any more (beat runs this every hour); returns how many.

    Also the private copies a killed worker left on the machine that runs this.
    """
    return import_uploads_expire() + import_copies_expire()


@worker_ready.connect
def _delete_copies_left_by_killed_workers(**kwargs) -> None:
    # A worker starting again after it was killed cleans up its machine.
    import_copies_expire()
