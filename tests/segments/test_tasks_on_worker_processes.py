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

from segments.models import Customer, ImportJob

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


def test_a_worker_process_has_every_task_and_runs_a_file_uploaded_in_admin(
    worker_processes, redis_broker, admin_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"  # the worker's MEDIA_ROOT
    worker = worker_processes()

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
