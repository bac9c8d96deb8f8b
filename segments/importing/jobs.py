"""Import jobs: a file uploaded in admin, imported by a Celery task, its progress on the job row."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from segments.importing.report import ImportReport
from segments.importing.services import import_customers, import_orders
from segments.models import ImportJob


def import_job_create(*, kind: str, upload, options: dict, created_by=None) -> ImportJob:
    """Save an uploaded file under MEDIA_ROOT/imports/ and queue its import."""
    from segments.tasks_import import import_job_task

    job = ImportJob(kind=kind, options=options, original_name=Path(upload.name).name[:255], created_by=created_by)
    job.file.save(Path(upload.name).name, upload, save=False)
    job.rows_total = _count_rows(job.file.path)
    job.save()
    transaction.on_commit(partial(import_job_task.delay, job_id=job.id))
    return job


def _count_rows(path) -> int:
    """Data lines in the file (newlines minus the header), for the progress bar."""
    count, last = 0, b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return max(count - 1 + (last != b"\n"), 0)


def import_job_run(*, job: ImportJob) -> ImportReport:
    """Run a queued job's import, recording progress on the job as chunks complete."""

    side = None

    def progress(rows: int) -> None:
        nonlocal side
        if not (connection.in_atomic_block and connection.vendor == "postgresql"):
            ImportJob.objects.filter(pk=job.pk).update(rows_processed=rows)
            return
        # A first load of orders is one transaction (FirstOrderLoad): an update made in it
        # would show on the job page only at the end. A connection of its own commits now.
        if side is None:
            side = connections.create_connection(DEFAULT_DB_ALIAS)
        with side.cursor() as cursor:
            cursor.execute(f"UPDATE {ImportJob._meta.db_table} SET rows_processed = %s WHERE id = %s", [rows, job.pk])

    try:
        return _import_job_run(job, progress)
    finally:
        if side is not None:
            side.close()


def _import_job_run(job: ImportJob, progress) -> ImportReport:
    options = job.options
    common = dict(
        source=job.file.path,
        mapping=options.get("mapping") or None,
        encoding=options.get("encoding") or None,
        dry_run=bool(options.get("dry_run")),
        progress=progress,
    )
    if job.kind == ImportJob.Kind.CUSTOMERS:
        return import_customers(**common)
    return import_orders(format=options.get("format") or "default", date_format=options.get("date_format") or None,
                         **common)
