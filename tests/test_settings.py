import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check_deploy(env_overrides):
    return _manage(["check", "--deploy", "--fail-level", "WARNING"], env_overrides)


def _manage(arguments, env_overrides):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 64 + "a-real-looking-secret-9f8e7d6c5b4a",
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": "sqlite:////tmp/segcampaign-check-deploy.sqlite3",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _check_deploy({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_bad_phone_region_names_the_setting():
    result = _check_deploy({"PHONE_DEFAULT_REGION": "Britain"})
    assert result.returncode != 0
    assert "PHONE_DEFAULT_REGION" in result.stderr


def test_celery_limits_that_do_not_nest_are_refused_naming_them():
    # A visibility timeout shorter than the hard limit would hand a long task to a second worker.
    result = _check_deploy({"CELERY_TASK_TIME_LIMIT": "9000", "CELERY_BROKER_VISIBILITY_TIMEOUT": "7200"})
    assert result.returncode != 0
    assert "CELERY_BROKER_VISIBILITY_TIMEOUT > CELERY_TASK_TIME_LIMIT > CELERY_TASK_SOFT_TIME_LIMIT" in result.stderr


def test_an_import_waiting_for_a_stale_job_stays_within_the_visibility_timeout():
    result = _check_deploy({"JOB_STALE_AFTER_SECONDS": "8000"})
    assert result.returncode != 0
    assert "> JOB_STALE_AFTER_SECONDS + JOB_HEARTBEAT_SECONDS" in result.stderr


def test_uploads_are_kept_in_the_database_unless_another_storage_is_configured():
    # S3 (django-storages) is configured the same way; it is not installed here.
    show = "from segments.models import ImportJob; print(ImportJob.file.field.storage.__class__.__name__)"

    default = _manage(["shell", "--no-imports", "-c", show], {})
    on_disk = _manage(["shell", "--no-imports", "-c", show], {
        "IMPORT_STORAGE_BACKEND": "django.core.files.storage.FileSystemStorage",
        "IMPORT_STORAGE_OPTIONS": '{"location": "/srv/shop-imports"}',
    })

    assert default.stdout.strip() == "DatabaseStorage", default.stderr
    assert on_disk.stdout.strip() == "FileSystemStorage", on_disk.stderr
