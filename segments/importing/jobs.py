"""Import jobs: a file uploaded in admin, imported by a Celery task, its progress on the job row."""

from __future__ import annotations

from pathlib import Path

from segcampaign.jobs import Progress
from segments.importing.report import ImportReport
from segments.importing.services import import_customers, import_orders
from segments.models import ImportJob


def import_job_create(*, kind: str, upload, options: dict, created_by=None) -> ImportJob:
    """Save an uploaded file under MEDIA_ROOT/imports/ as a queued import job (segments.tasks
    queues it)."""
    job = ImportJob(kind=kind, options=options, original_name=Path(upload.name).name[:255], created_by=created_by)
    job.file.save(Path(upload.name).name, upload, save=False)
    job.rows_total = _count_rows(job.file.path)
    job.save()
    return job


def _count_rows(path) -> int:
    """Data lines in the file (newlines minus the header), for the progress bar."""
    count, last = 0, b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return max(count - 1 + (last != b"\n"), 0)


def import_job_run(*, job: ImportJob, progress: Progress) -> ImportReport:
    """Run a claimed job's import, reporting the rows read as chunks complete.

    The job lifecycle writes the progress from a connection of its own, so it shows at once
    even during a first load of orders, which is one long transaction.
    """
    total = job.rows_total or 0

    def rows_read(rows: int) -> None:
        progress.update(rows_processed=rows, percent=min(99, round(100 * rows / total)) if total else 0)

    options = job.options
    common = dict(
        source=job.file.path,
        mapping=options.get("mapping") or None,
        encoding=options.get("encoding") or None,
        dry_run=bool(options.get("dry_run")),
        on_rows=rows_read,
    )
    if job.kind == ImportJob.Kind.CUSTOMERS:
        return import_customers(**common)
    return import_orders(format=options.get("format") or "default", date_format=options.get("date_format") or None,
                         **common)
