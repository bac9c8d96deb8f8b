"""Tasks on real `celery -A segcampaign worker` processes, started as production starts them.

The in-process worker thread of test_tasks.py shares this process's imports, so it cannot
see a task module that a real worker never imports. These workers are separate processes on
Redis and the test database; the test talks to them only through the broker and the database.
"""

import ast
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from segments import tasks
from segments.models import Customer, ImportJob, StoredFileChunk

ROOT = Path(__file__).resolve().parent.parent.parent
PROJECT = ("segcampaign", "segments", "campaigns")

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def declared_tasks() -> set[str]:
    """Every task the code declares (`@shared_task` or `@app.task`), read from the source of every app."""
    names = set()
    for app in PROJECT:
        for path in sorted((ROOT / app).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef) and any(_is_task(d) for d in node.decorator_list):
                    names.add(f"{module}.{node.name}")
    return names


def _is_task(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "shared_task") or (
        isinstance(target, ast.Attribute) and target.attr in {"shared_task", "task"}
    )


def customers_csv(rows: int) -> bytes:
    lines = ["external_id,email,first_name"] + [f"K{n:06d},k{n}@example.com,Name{n}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def wait_for_end(job_id: int, *, timeout: float = 45) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.status in {ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"import job {job_id} did not end: {ImportJob.objects.get(pk=job_id).status}")


def test_a_worker_process_has_every_task_and_imports_a_file_uploaded_on_another_machine(
    worker_processes, redis_broker, admin_client, settings, tmp_path
):
    # The web process and the worker share no disk: the worker's MEDIA_ROOT is another folder.
    settings.MEDIA_ROOT = tmp_path / "web-media"
    worker = worker_processes(MEDIA_ROOT=tmp_path / "worker-media")

    registered = redis_broker.control.inspect([worker.hostname], timeout=10).registered()
    missing = declared_tasks() - set(registered[worker.hostname])
    upload = SimpleUploadedFile("customers.csv", customers_csv(50), content_type="text/csv")
    response = admin_client.post(reverse("admin:segments_import"), {"file": upload, "kind": "customers"})
    job = wait_for_end(ImportJob.objects.get().pk)

    assert "segments.tasks.import_job_task" in declared_tasks()
    assert missing == set()
    assert response.status_code == 302
    assert job.status == ImportJob.Status.SUCCEEDED, job.error + worker.output()
    assert (job.attempts, job.report["created"], job.rows_processed) == (1, 50, 50)
    assert Customer.objects.count() == 50
    assert job.file.name == "" and not StoredFileChunk.objects.exists()  # deleted once imported
    assert not (tmp_path / "web-media").exists() and not (tmp_path / "worker-media").exists()


def test_an_import_whose_worker_is_killed_is_taken_over_by_another_worker(worker_processes, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web-media"
    rows = 60_000  # at 100 rows a chunk, longer than the visibility timeout on a fast machine
    lifecycle = {
        # Beats every second; a job silent for 4 s lost its worker.
        "JOB_HEARTBEAT_SECONDS": 1, "JOB_STALE_AFTER_SECONDS": 4,
        # Redis gives an unacknowledged message to another worker after 6 s (checked every second),
        # longer than the 5 s an import task waits for a running job. Time limits must be shorter
        # still: the solo pool does not enforce them.
        "CELERY_BROKER_VISIBILITY_TIMEOUT": 6, "CELERY_TASK_TIME_LIMIT": 5, "CELERY_TASK_SOFT_TIME_LIMIT": 4,
        "CELERY_BROKER_TRANSPORT_OPTIONS": '{"unacked_restore_interval": 1, "unacked_restore_throttle": 1}',
        "IMPORT_CHUNK_ROWS": 100,  # 200 chunks: the import lasts long enough to be killed half-way
    }
    first = worker_processes("first", **lifecycle)
    job = tasks.import_job_queue(kind="customers", upload=SimpleUploadedFile("big.csv", customers_csv(rows)),
                                 options={})
    first.wait_for("import_job_task")
    # The second worker is up while the first one imports. After the visibility timeout Redis
    # hands it the message again; the job's heartbeat is fresh (its worker is alive), so the
    # task must wait instead of dropping the message.
    second = worker_processes("second", **lifecycle)
    second.wait_for("retry: Retry in")
    mid_import = ImportJob.objects.get(pk=job.pk)
    first.kill()
    job = wait_for_end(job.pk)

    assert (mid_import.status, mid_import.attempts) == (ImportJob.Status.RUNNING, 1), "imported before the kill"
    assert 0 < mid_import.rows_processed < rows
    assert job.status == ImportJob.Status.SUCCEEDED, job.error + second.output()
    assert job.attempts == 2
    assert (job.rows_processed, job.report["rows"], job.report["rejected"]) == (rows, rows, 0)
    assert job.report["created"] + job.report["unchanged"] == rows
    assert Customer.objects.count() == rows
