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


def test_a_bad_range_of_segments_to_try_names_the_settings():
    backwards = _check_deploy({"SEGMENT_K_MIN": "6", "SEGMENT_K_MAX": "4"})
    not_a_number = _check_deploy({"SEGMENT_K_MAX": "ten"})

    assert backwards.returncode != 0
    assert "SEGMENT_K_MIN must be at least 2 and SEGMENT_K_MAX at least SEGMENT_K_MIN" in backwards.stderr
    assert "got SEGMENT_K_MIN=6 and SEGMENT_K_MAX=4" in backwards.stderr
    assert not_a_number.returncode != 0
    assert "SEGMENT_K_MIN and SEGMENT_K_MAX must be whole numbers" in not_a_number.stderr
