import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "PATH": "/usr/bin:/bin",
    # Whatever this checkout's own .env says (`make demo` writes one) stays out of these tests.
    "ENV_FILE": "/dev/null",
    "DEBUG": "false",
    "SECRET_KEY": "x" * 64 + "a-real-looking-secret-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "sqlite:////tmp/segcampaign-check-deploy.sqlite3",
}


def _manage(*args, environment):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def _check_deploy(env_overrides):
    return _manage("check", "--deploy", "--fail-level", "WARNING", environment={**PRODUCTION, **env_overrides})


def _without(*names, **overrides):
    return {**{key: value for key, value in PRODUCTION.items() if key not in names}, **overrides}


def _example_secret_key():
    lines = (ROOT / "deploy" / "segcampaign.env").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith("SECRET_KEY="))


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _check_deploy({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_is_off_unless_the_environment_turns_it_on():
    result = _manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)",
                     environment=_without("DEBUG"))
    assert result.stdout.strip() == "False", result.stderr


def test_a_host_that_forgets_debug_and_the_key_does_not_start():
    result = _manage("check", environment=_without("DEBUG", "SECRET_KEY"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_the_development_key_on_a_public_host():
    result = _manage("check", environment=_without("SECRET_KEY", DEBUG="true", ALLOWED_HOSTS="localhost,shop.example.com"))
    assert result.returncode != 0
    assert "SECRET_KEY is a published example key and ALLOWED_HOSTS names shop.example.com" in result.stderr


def test_it_refuses_the_documented_example_key_on_a_public_host():
    result = _check_deploy({"SECRET_KEY": _example_secret_key()})
    assert result.returncode != 0
    assert "SECRET_KEY is a published example key" in result.stderr


def test_the_development_key_still_serves_this_machine():
    for hosts in ({}, {"ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]"}):
        result = _manage("check", environment=_without("SECRET_KEY", "ALLOWED_HOSTS", DEBUG="true", **hosts))
        assert result.returncode == 0, result.stderr


def test_a_client_cannot_claim_https_unless_a_tls_proxy_is_declared():
    request = (
        "from django.test import Client; "
        "response = Client().get('/admin/login/', HTTP_HOST='shop.example.com', headers={'X-Forwarded-Proto': 'https'}); "
        "print(response.status_code, response['Location'])"
    )
    result = _manage("shell", "--no-imports", "-c", request, environment=PRODUCTION)
    assert result.stdout.split() == ["301", "https://shop.example.com/admin/login/"], result.stderr

    show = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    result = _manage("shell", "--no-imports", "-c", show, environment={**PRODUCTION, "BEHIND_TLS_PROXY": "true"})
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_bad_phone_region_names_the_setting():
    result = _check_deploy({"PHONE_DEFAULT_REGION": "Britain"})
    assert result.returncode != 0
    assert "PHONE_DEFAULT_REGION" in result.stderr


def test_a_request_for_a_wrong_host_logs_one_line_without_a_traceback(client, caplog):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert [record.name for record in caplog.records] == ["django.security.DisallowedHost"]
    assert caplog.text.strip().endswith(
        "Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS."
    )
    assert len(caplog.text.strip().splitlines()) == 1


def test_a_negative_web_timeout_names_the_setting():
    result = _check_deploy({"WEB_LOCK_TIMEOUT_MS": "-1"})
    assert result.returncode != 0
    assert "WEB_LOCK_TIMEOUT_MS" in result.stderr


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

    default = _manage("shell", "--no-imports", "-c", show, environment=PRODUCTION)
    on_disk = _manage("shell", "--no-imports", "-c", show, environment={
        **PRODUCTION,
        "IMPORT_STORAGE_BACKEND": "django.core.files.storage.FileSystemStorage",
        "IMPORT_STORAGE_OPTIONS": '{"location": "/srv/shop-imports"}',
    })

    assert default.stdout.strip() == "DatabaseStorage", default.stderr
    assert on_disk.stdout.strip() == "FileSystemStorage", on_disk.stderr


def test_a_bad_import_date_names_the_setting():
    assert "IMPORT_LATEST_DATE must be a date" in _check_deploy({"IMPORT_LATEST_DATE": "next week"}).stderr
    assert "IMPORT_EARLIEST_DATE must be a date" in _check_deploy({"IMPORT_EARLIEST_DATE": "tomorrow"}).stderr
    result = _check_deploy({"IMPORT_EARLIEST_DATE": "2020-01-01", "IMPORT_LATEST_DATE": "2019-12-31"})
    assert "IMPORT_LATEST_DATE (2019-12-31) is before IMPORT_EARLIEST_DATE (2020-01-01)" in result.stderr


def test_import_dates_are_read_as_dates_and_tomorrow_as_none():
    result = subprocess.run(
        [sys.executable, "-c",
         "from django.conf import settings as s; print(repr(s.IMPORT_EARLIEST_DATE), repr(s.IMPORT_LATEST_DATE))"],
        cwd=ROOT, capture_output=True, text=True,
        env={**PRODUCTION, "DJANGO_SETTINGS_MODULE": "segcampaign.settings",
             "IMPORT_EARLIEST_DATE": "2015-03-01", "IMPORT_LATEST_DATE": "Tomorrow"},
    )
    assert result.stdout.strip() == "datetime.date(2015, 3, 1) None", result.stderr


def test_a_bad_range_of_segments_to_try_names_the_settings():
    backwards = _check_deploy({"SEGMENT_K_MIN": "6", "SEGMENT_K_MAX": "4"})
    not_a_number = _check_deploy({"SEGMENT_K_MAX": "ten"})

    assert backwards.returncode != 0
    assert "SEGMENT_K_MIN must be at least 2 and SEGMENT_K_MAX at least SEGMENT_K_MIN" in backwards.stderr
    assert "got SEGMENT_K_MIN=6 and SEGMENT_K_MAX=4" in backwards.stderr
    assert not_a_number.returncode != 0
    assert "SEGMENT_K_MIN and SEGMENT_K_MAX must be whole numbers" in not_a_number.stderr
