"""The email (anymail) and SMS settings, read from the environment in a fresh process."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: str(getattr(s, name)) if name.endswith("PATH") else getattr(s, name) for name in (
    "EMAIL_BACKEND", "EMAIL_FILE_PATH", "ANYMAIL", "SMS_BACKEND", "SMS_FILE_PATH", "SMS_OPT_OUT_TEXT",
    "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID")}))
"""


def load_settings(**variables):
    # Development settings (DEBUG on, the development key), whatever this checkout's .env says.
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "segcampaign.settings", "ENV_FILE": "/dev/null",
           "DEBUG": "true", **variables}
    return subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True)


def test_by_default_email_goes_to_files_and_sms_to_the_console():
    result = load_settings()

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert values["EMAIL_FILE_PATH"] == str(ROOT / "sent_email")
    assert values["ANYMAIL"] == {}
    assert values["SMS_BACKEND"] == "console"
    assert values["SMS_OPT_OUT_TEXT"] == "Reply STOP to opt out"


def test_every_anymail_variable_becomes_an_anymail_setting_under_its_own_name():
    result = load_settings(
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="server-token",
        ANYMAIL_POSTMARK_API_URL="http://127.0.0.1:8025/",
        ANYMAIL_MAILGUN_API_KEY="key-123",
        ANYMAIL_WEBHOOK_SECRET="user:secret",
        ANYMAIL_IGNORE_RECIPIENT_STATUS="false",
        ANYMAIL_AMAZON_SES_CLIENT_PARAMS='{"region_name": "eu-west-1"}',
        ANYMAIL_REQUESTS_TIMEOUT="12.5",
        ANYMAIL_SENDGRID_API_KEY="",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ANYMAIL"] == {
        "POSTMARK_SERVER_TOKEN": "server-token",
        "POSTMARK_API_URL": "http://127.0.0.1:8025/",
        "MAILGUN_API_KEY": "key-123",
        "WEBHOOK_SECRET": "user:secret",
        "IGNORE_RECIPIENT_STATUS": False,
        "AMAZON_SES_CLIENT_PARAMS": {"region_name": "eu-west-1"},
        "REQUESTS_TIMEOUT": 12.5,
    }


def test_the_old_unprefixed_esp_variables_are_no_longer_read():
    result = load_settings(POSTMARK_SERVER_TOKEN="old", MAILGUN_API_KEY="old")

    assert json.loads(result.stdout)["ANYMAIL"] == {}


def test_bad_json_in_an_anymail_variable_names_the_variable():
    result = load_settings(ANYMAIL_SEND_DEFAULTS="{not json")

    assert result.returncode != 0
    assert "ANYMAIL_SEND_DEFAULTS is not valid JSON" in result.stderr


def test_a_bad_sms_backend_names_the_setting():
    result = load_settings(SMS_BACKEND="carrier-pigeon")

    assert result.returncode != 0
    assert "SMS_BACKEND must be twilio, console, file or locmem, got 'carrier-pigeon'" in result.stderr


def test_the_twilio_backend_needs_credentials_and_a_sender():
    result = load_settings(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC123")

    assert result.returncode != 0
    assert "SMS_BACKEND=twilio needs TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID" in result.stderr

    result = load_settings(
        SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="t", TWILIO_MESSAGING_SERVICE_SID="MG1"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["TWILIO_MESSAGING_SERVICE_SID"] == "MG1"
