"""Celery task for admin uploads: run one ImportJob."""

import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from segments.importing import ImportFileError, import_job_run
from segments.models import ImportJob

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=3, acks_late=True)
def import_job_task(self, *, job_id: int) -> str:
    """Claim the job, run its import, record the outcome on the job.

    Upserts are idempotent and every chunk commits on its own, so a retry after the
    database went away redoes at most one chunk's work and duplicates nothing. (A first
    load into the empty order table is one transaction: a retry starts it again from an
    empty table.)
    """
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING] if self.request.retries else
        [ImportJob.Status.QUEUED],
    ).update(status=ImportJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        # Another worker has it, or it already finished: a redelivered message does nothing.
        return "skipped"
    job = ImportJob.objects.get(pk=job_id)
    try:
        report = import_job_run(job=job)
    except ImportFileError as exc:
        _finish(job, status=ImportJob.Status.FAILED, error=str(exc), report=exc.report.as_dict() if exc.report else {})
        return ImportJob.Status.FAILED
    except OperationalError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries)
        logger.exception("Import job %s failed: the database kept failing", job_id)
        _finish(job, status=ImportJob.Status.FAILED, error=f"Database error: {exc}")
        return ImportJob.Status.FAILED
    except Exception as exc:
        # The job page shows what went wrong; the traceback goes to the log.
        logger.exception("Import job %s failed", job_id)
        _finish(job, status=ImportJob.Status.FAILED, error=f"Unexpected error: {exc!r}")
        return ImportJob.Status.FAILED
    _finish(job, status=ImportJob.Status.SUCCEEDED, report=report.as_dict(), rows_processed=report.rows)
    return ImportJob.Status.SUCCEEDED


def _finish(job: ImportJob, *, status: str, error: str = "", report: dict | None = None, rows_processed=None):
    fields = {"status": status, "error": error, "finished_at": timezone.now()}
    if report is not None:
        fields["report"] = report
    if rows_processed is not None:
        fields["rows_processed"] = rows_processed
    ImportJob.objects.filter(pk=job.pk).update(**fields)
