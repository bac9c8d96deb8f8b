"""segcampaign settings.

Every value comes from the environment, read here and only here through django-environ
(a bad value fails with ImproperlyConfigured naming the variable). The defaults are the
embedded laptop setup: SQLite, Celery eager, email to the console.
"""

from pathlib import Path

import environ
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real deployments set real variables

DEBUG = env.bool("DEBUG", default=True)

# A development key only while DEBUG is on: production must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "segcampaign.apps.AdminConfig",  # django.contrib.admin with the project's site (segcampaign/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "segments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "segcampaign.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "segcampaign.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the admin read while an import or segmentation writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["OPTIONS"]["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-us")
# The shop's own time zone: naive dates in imported files are read in it.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# plotly.js for the admin plots, served from the installed plotly package (as static/plotly/plotly.min.js): no CDN.
STATICFILES_DIRS = [("plotly", Path(plotly.__file__).resolve().parent / "package_data")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Admin uploads of large CSV files go to disk, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Security (production values when DEBUG is off; `manage.py check --deploy` is clean) ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=True) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"  # admin charts are inline, never framed

# --- Celery ---
# Unset broker: tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Housekeeping that is not the marketer's to schedule (beat copies it into its database schedule).
CELERY_BEAT_SCHEDULE = {
    "fail-stale-work": {"task": "segments.tasks.stale_work_fail_task", "schedule": 60.0},
}
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"

# --- Email (anymail) and SMS (Twilio) ---
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@example.com")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ANYMAIL = {
    # Only the values a chosen ESP backend needs are read by anymail; unset ones stay out.
    key: value
    for key, value in {
        "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
        "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
        "SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default=""),
        "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
        "AMAZON_SES_CLIENT_PARAMS": None,
        "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default=""),
    }.items()
    if value
}
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")

# --- segcampaign ---
# Region assumed for phone numbers written without a country code (ISO 3166 alpha-2).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="GB").upper()
if len(PHONE_DEFAULT_REGION) != 2 or not PHONE_DEFAULT_REGION.isalpha():
    raise ImproperlyConfigured(f"PHONE_DEFAULT_REGION must be a two-letter region code, got {PHONE_DEFAULT_REGION!r}")
# How money is written in segment descriptions ("spends £120").
CURRENCY_SYMBOL = env.str("CURRENCY_SYMBOL", default="£")
# Rows per chunk read and upserted by the CSV importers: bounds memory on large files.
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=100_000)
if IMPORT_CHUNK_ROWS < 1:
    raise ImproperlyConfigured("IMPORT_CHUNK_ROWS must be a positive integer")

# The numbers of segments `--k auto` tries (`segment --k-min/--k-max` override them per run).
try:
    SEGMENT_K_MIN = env.int("SEGMENT_K_MIN", default=3)
    SEGMENT_K_MAX = env.int("SEGMENT_K_MAX", default=10)
except ValueError as exc:
    raise ImproperlyConfigured(f"SEGMENT_K_MIN and SEGMENT_K_MAX must be whole numbers: {exc}") from None
if not 2 <= SEGMENT_K_MIN <= SEGMENT_K_MAX <= 20:
    raise ImproperlyConfigured(
        "SEGMENT_K_MIN must be at least 2 and SEGMENT_K_MAX at least SEGMENT_K_MIN and at most 20 (each K "
        f"tried costs time), got SEGMENT_K_MIN={SEGMENT_K_MIN} and SEGMENT_K_MAX={SEGMENT_K_MAX}"
    )

# Long work (imports, segmentation runs, campaign runs) beats every JOB_HEARTBEAT_SECONDS while it
# runs; one silent for JOB_STALE_AFTER_SECONDS lost its worker and is failed or started again.
JOB_HEARTBEAT_SECONDS = env.int("JOB_HEARTBEAT_SECONDS", default=10)
JOB_STALE_AFTER_SECONDS = env.int("JOB_STALE_AFTER_SECONDS", default=120)
if JOB_HEARTBEAT_SECONDS < 1 or JOB_STALE_AFTER_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "JOB_STALE_AFTER_SECONDS must be at least three times JOB_HEARTBEAT_SECONDS (a positive number), "
        f"got {JOB_STALE_AFTER_SECONDS} and {JOB_HEARTBEAT_SECONDS}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
