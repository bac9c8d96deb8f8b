import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check_deploy(env_overrides):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 64 + "a-real-looking-secret-9f8e7d6c5b4a",
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": "sqlite:////tmp/segcampaign-check-deploy.sqlite3",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
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
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "segcampaign.settings",
             "IMPORT_EARLIEST_DATE": "2015-03-01", "IMPORT_LATEST_DATE": "Tomorrow"},
    )
    assert result.stdout.strip() == "datetime.date(2015, 3, 1) None", result.stderr
