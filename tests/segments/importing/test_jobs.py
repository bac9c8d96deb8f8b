"""Import jobs: the worker's private copy of an upload, and how long an upload is kept when its job
does not end by itself."""

import datetime as dt
import os
import stat
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from segcampaign import jobs
from segcampaign.jobs import Progress
from segments.importing import import_copies_expire, import_job_create, import_job_run, import_uploads_expire
from segments.models import Customer, ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def uploaded(*, days_ago=0, **fields) -> ImportJob:
    upload = SimpleUploadedFile("c.csv", b"external_id,email\nK1,k1@example.com\n")
    job = import_job_create(kind="customers", upload=upload, options={})
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago), **fields)
    return ImportJob.objects.get(pk=job.pk)


def test_an_upload_whose_job_never_ran_is_deleted_after_the_retention_period(settings):
    settings.IMPORT_UPLOAD_RETENTION_DAYS = 7
    forgotten = uploaded(days_ago=8)
    waiting = uploaded(days_ago=6)
    long_running = uploaded(days_ago=8, status="running", heartbeat_at=timezone.now())

    assert import_uploads_expire() == 1

    forgotten.refresh_from_db(), waiting.refresh_from_db(), long_running.refresh_from_db()
    assert forgotten.status == "failed" and forgotten.file.name == ""
    assert forgotten.error == "no worker ran it within 7 days of the upload; the file was deleted"
    assert waiting.status == "queued" and waiting.file.storage.exists(waiting.file.name)
    assert long_running.status == "running" and long_running.file.storage.exists(long_running.file.name)


def test_an_upload_left_behind_by_a_job_that_ended_is_deleted():
    # Failed as stale by the sweep, say: nothing deleted its file then.
    ended = uploaded(status="failed")
    name = ended.file.name

    assert import_uploads_expire() == 1

    ended.refresh_from_db()
    assert ended.file.name == "" and not ended.file.storage.exists(name)
    assert import_uploads_expire() == 0


def test_a_worker_imports_from_a_private_copy_it_deletes_afterwards(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "worker-tmp"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    job = jobs.job_claim(ImportJob, pk=uploaded().pk)
    copies = []

    def look_at_the_copy(fields):
        copies.extend((path.name, stat.S_IMODE(path.stat().st_mode)) for path in settings.FILE_UPLOAD_TEMP_DIR.iterdir())

    report = import_job_run(job=job, progress=Progress(look_at_the_copy))

    assert report.created == 1 and Customer.objects.count() == 1
    assert copies and all(name.startswith("segcampaign-import-") and mode == 0o600 for name, mode in copies)
    assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


def test_copies_left_by_a_killed_worker_are_deleted_once_no_task_can_be_reading_them(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR, settings.CELERY_TASK_TIME_LIMIT = tmp_path, 3900
    left_behind, in_use, other = (tmp_path / name for name in (
        "segcampaign-import-abc.csv", "segcampaign-import-def.csv", "someone-else.csv",
    ))
    for path in (left_behind, in_use, other):
        path.write_bytes(b"external_id\nK1\n")
    two_hours_ago = time.time() - 7200
    for path in (left_behind, other):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert import_copies_expire() == 1

    assert sorted(path.name for path in tmp_path.iterdir()) == ["segcampaign-import-def.csv", "someone-else.csv"]
