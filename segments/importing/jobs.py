"""Import jobs: a file uploaded in admin, imported by a Celery task, its progress on the job row.

The upload is kept in STORAGES["imports"] (the database by default), so whichever worker,
on whichever machine, runs the job reads it; the worker imports from a private local copy.

The uploaded file is customers' personal data, kept only while it is needed: it is deleted when
its job ends (succeeded, failed, a dry run alike), and a file whose job never ran is deleted
after IMPORT_UPLOAD_RETENTION_DAYS (import_uploads_expire, run by beat).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from segcampaign import jobs
from segcampaign.jobs import Progress
from segments.importing.report import ImportReport
from segments.importing.services import import_customers, import_orders
from segments.models import ImportJob

logger = logging.getLogger(__name__)


def import_job_create(*, kind: str, upload, options: dict, created_by=None) -> ImportJob:
    """Store an uploaded file (STORAGES["imports"]) as a queued import job (segments.tasks queues it).

    The file and the job row are written in one transaction: no file without its job.
    """
    job = ImportJob(
        kind=kind, options=options, original_name=Path(upload.name).name[:255], created_by=created_by,
        rows_total=_count_rows(upload),
    )
    with transaction.atomic():
        job.file.save(Path(upload.name).name, upload, save=False)
        job.save()
    return job


def _count_rows(upload) -> int:
    """Data lines in the file (newlines minus the header), for the progress bar."""
    count, last = 0, b"\n"
    for block in upload.chunks():
        count += block.count(b"\n")
        last = block[-1:] or last
    return max(count - 1 + (last != b"\n"), 0)


COPY_PREFIX = "segcampaign-import-"


@contextmanager
def _local_copy(upload: FieldFile) -> Iterator[Path]:
    """The upload copied to a temporary file of this machine, readable by its owner only (0600,
    as mkstemp makes it), deleted afterwards. The upload may live in the database or on
    another machine; the importer's fast path reads a path."""
    descriptor, name = tempfile.mkstemp(prefix=COPY_PREFIX, suffix=Path(upload.name).suffix,
                                        dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        with os.fdopen(descriptor, "wb") as copy, upload.open("rb") as stored:
            for block in stored.chunks():
                copy.write(block)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def import_job_run(*, job: ImportJob, progress: Progress) -> ImportReport:
    """Run a claimed job's import, reporting the rows read as chunks complete.

    The job lifecycle writes the progress from a connection of its own, so it shows at once
    even during a first load of orders, which is one long transaction.
    """
    total = job.rows_total or 0

    def rows_read(rows: int) -> None:
        progress.update(rows_processed=rows, percent=min(99, round(100 * rows / total)) if total else 0)

    options = job.options
    with _local_copy(job.file) as path:
        common = {
            "source": path,
            "mapping": options.get("mapping") or None,
            "encoding": options.get("encoding") or None,
            "dry_run": bool(options.get("dry_run")),
            "on_rows": rows_read,
        }
        if job.kind == ImportJob.Kind.CUSTOMERS:
            return import_customers(**common)
        return import_orders(format=options.get("format") or "default",
                             date_format=options.get("date_format") or None, **common)


def import_job_upload_delete(job: ImportJob) -> bool:
    """Delete the uploaded file of a job that ended; False when that failed (the expiry retries it).

    The job keeps the file's original name and its report; only the data goes.
    """
    if not job.file:
        return True
    try:
        job.file.delete(save=False)
    except Exception:
        # The outcome is recorded on the job already; the hourly expiry tries again.
        logger.exception("could not delete the upload of import job %s", job.pk)
        return False
    ImportJob.objects.filter(pk=job.pk).update(file="")
    return True


def import_uploads_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the uploads nobody needs any more; returns how many files went.

    Those of jobs that ended without deleting theirs (failed by hand or as stale, or whose
    deletion failed), and those of jobs still queued IMPORT_UPLOAD_RETENTION_DAYS after the
    upload, which are failed with the reason: no worker ran them.
    """
    now = now or timezone.now()
    days = settings.IMPORT_UPLOAD_RETENTION_DAYS
    jobs.jobs_fail_unstarted(
        ImportJob, created_before=now - dt.timedelta(days=days),
        error=f"no worker ran it within {days} days of the upload; the file was deleted",
    )
    ended = ImportJob.objects.filter(status__in=[ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED]).exclude(file="")
    return sum(import_job_upload_delete(job) for job in ended)


def import_copies_expire() -> int:
    """Delete the copies of uploads left on this machine by a worker that was killed; how many.

    Only copies older than the hard time limit: no task still running can be reading them.
    """
    cutoff = timezone.now().timestamp() - settings.CELERY_TASK_TIME_LIMIT
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
    deleted = 0
    for copy in folder.glob(f"{COPY_PREFIX}*"):
        with suppress(FileNotFoundError):
            if copy.stat().st_mtime < cutoff:
                copy.unlink()
                deleted += 1
    return deleted
