"""segcampaign settings.

Every value comes from the environment, read here and only here through django-environ
(a bad value fails with ImproperlyConfigured naming the variable). The defaults are the
embedded laptop setup (SQLite, Celery eager, email to files, SMS to the console) with DEBUG
off: the development targets of the Makefile, the .env that `make demo` writes and the tests
turn it on.
"""

import datetime as dt
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from segcampaign import static_headers

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Optional, and beneath the real environment: a variable already set wins over the file. ENV_FILE
# names another file, e.g. a systemd unit's, to run `manage.py` by hand with the same settings.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

# Off unless asked for: a production host that forgets DEBUG must not get development settings.
DEBUG = env.bool("DEBUG", default=False)

# A development key only while DEBUG is on: production must set SECRET_KEY.
development_key = "django-insecure-development-only-key-do-not-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = development_key

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
# Anyone can read the development key and the example in deploy/segcampaign.env, and so sign sessions
# with them: they are refused as soon as the site answers to a name other than this machine's.
public_hosts = sorted(set(ALLOWED_HOSTS) - {"localhost", "127.0.0.1", "[::1]"})
if SECRET_KEY in {development_key, "change-me"} and public_hosts:
    raise ImproperlyConfigured(
        f"SECRET_KEY is a published example key and ALLOWED_HOSTS names {', '.join(public_hosts)}: "
        "set SECRET_KEY to a secret of your own (see README, Production)"
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "segcampaign.apps.AdminConfig",  # django.contrib.admin with the project's site (segcampaign/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver leaves static files to whitenoise, as in production: compressed, with cache headers.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "segments",
    "campaigns",
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
    "segcampaign.middleware.DatabaseTimeouts",
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
# plotly.js for the admin plots, from the installed plotly package (as static/plotly/plotly.min.js): no CDN.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "segcampaign.staticfinders.PlotlyFinder",
]
# Development only (whitenoise serves from the finders): plotly.js and its .gz, made once per version.
PLOTLY_CACHE_DIR = BASE_DIR / ".cache" / "plotly"
WHITENOISE_ADD_HEADERS_FUNCTION = static_headers.add_headers
# Development: whitenoise's default (max-age=0) has the browser fetch every admin stylesheet and
# script again on every page, each through runserver. The project ships no static files of its own
# to edit, and Django's change only with Django: an hour is safe. Production: hashed names, a year.
WHITENOISE_MAX_AGE = 3600 if DEBUG else 60
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Uploaded CSV files, kept where every worker reads them: the database by default; any Django
    # storage otherwise, e.g. IMPORT_STORAGE_BACKEND=storages.backends.s3.S3Storage (django-storages)
    # with IMPORT_STORAGE_OPTIONS='{"bucket_name": "shop-imports"}'. Not MEDIA_ROOT: a worker on
    # another machine could not read it.
    "imports": {
        "BACKEND": env.str("IMPORT_STORAGE_BACKEND", default="segments.storage.DatabaseStorage"),
        "OPTIONS": env.json("IMPORT_STORAGE_OPTIONS", default={}),
    },
    # Production: hashed names served with a year's cache (immutable) and a .gz of every text file,
    # made by collectstatic. Development: whitenoise serves from the finders (PlotlyFinder has a .gz).
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Admin uploads of large CSV files go to disk, not memory, in a temporary file only its owner
# reads (0600); one past IMPORT_MAX_UPLOAD_MB stops being written (the form then refuses it).
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "segments.importing.uploads.CappedTemporaryFileUploadHandler",
]
# Uploads hold customers' personal data: stored files are readable by their owner only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Security (production values when DEBUG is off; `manage.py check --deploy` is clean) ---
# Trusted only when a proxy that sets the header itself is declared: otherwise any client could claim https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
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
# A message is acknowledged when its task ends, not when it starts (acks_late), and one whose
# worker process died (killed, out of memory) goes back to the queue instead of being lost
# (reject_on_worker_lost). The tasks claim their job once and wait for a job whose worker may
# still be alive, so a message that comes back never runs the work twice at once.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits, in seconds, of every task (prefork workers; the solo pool ignores them). At the
# soft limit the task gets SoftTimeLimitExceeded and fails its job with the reason; at the hard
# limit the worker kills the process running it, and the job, no longer beating, is failed or
# started again as stale. The gap lets a task end cleanly before the kill.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 300)
# Redis (and SQS) hand a message nobody acknowledged within the visibility timeout to another
# worker. It must be longer than the hard limit, or a long task runs twice at once, and longer
# than every countdown and ETA, which a worker holds unacknowledged until they are due.
# CELERY_BROKER_TRANSPORT_OPTIONS (JSON) adds other options of the transport.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 3600),
    **env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={}),
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Housekeeping that is not the marketer's to schedule (beat copies it into its database schedule).
CELERY_BEAT_SCHEDULE = {
    "fail-stale-work": {"task": "segments.tasks.stale_work_fail_task", "schedule": 60.0},
    "campaign-dispatch": {"task": "campaigns.tasks.campaign_dispatch_task", "schedule": 60.0},
    "delete-old-uploads": {"task": "segments.tasks.import_uploads_expire_task", "schedule": 3600.0},
}
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"  # with a host: kombu warns about a missing one otherwise

# --- Email (anymail) and SMS (Twilio) ---
# Without an ESP backend, each batch of email is written as a file under EMAIL_FILE_PATH.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=BASE_DIR / "sent_email")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@example.com")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)


def _anymail_settings() -> dict:
    """Every ANYMAIL_<NAME> variable is anymail's <NAME> setting, under anymail's own name
    (ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_POSTMARK_API_URL, ANYMAIL_MAILGUN_API_KEY,
    ANYMAIL_WEBHOOK_SECRET, ...), so any ESP, or a local stand-in of its API, is configured
    without code. "true"/"false" are booleans; a value starting with { or [ is JSON (for dict
    and list settings such as ANYMAIL_AMAZON_SES_CLIENT_PARAMS); REQUESTS_TIMEOUT is a
    number; anything else is a string. Empty variables are left out."""
    settings = {}
    for variable in sorted(name for name in env.ENVIRON if name.startswith("ANYMAIL_")):
        name, value = variable.removeprefix("ANYMAIL_"), env.str(variable).strip()
        if not name or not value:
            continue
        if value[0] in "{[":
            try:
                settings[name] = env.json(variable)
            except ValueError as exc:
                raise ImproperlyConfigured(f"{variable} is not valid JSON: {exc}") from None
        elif value.lower() in ("true", "false"):
            settings[name] = env.bool(variable)
        elif name == "REQUESTS_TIMEOUT":
            try:
                settings[name] = env.float(variable)
            except ValueError:
                raise ImproperlyConfigured(f"{variable} must be a number of seconds, got {value!r}") from None
        else:
            settings[name] = value
    return settings


ANYMAIL = _anymail_settings()

# twilio sends through Twilio's Messages API; console prints each SMS; file appends one JSON
# object per SMS to SMS_FILE_PATH; locmem keeps them in campaigns.channels.sms.outbox (tests).
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
if SMS_BACKEND not in ("twilio", "console", "file", "locmem"):
    raise ImproperlyConfigured(f"SMS_BACKEND must be twilio, console, file or locmem, got {SMS_BACKEND!r}")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=BASE_DIR / "sent_sms.jsonl")
# Appended to an SMS that does not already carry it.
SMS_OPT_OUT_TEXT = env.str("SMS_OPT_OUT_TEXT", default="Reply STOP to opt out")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# The sender: a phone number (or alphanumeric sender ID), or a Messaging Service's sender pool.
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
if SMS_BACKEND == "twilio":
    _needed = {
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID": TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID,
    }
    if not all(_needed.values()):
        raise ImproperlyConfigured(f"SMS_BACKEND=twilio needs {', '.join(k for k, v in _needed.items() if not v)}")

# --- segcampaign ---
# Where `manage.py demo` keeps the admin login it made, beside .env (both ignored by git).
DEMO_LOGIN_FILE = BASE_DIR / ".demo-login"
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
# The largest CSV file the admin accepts, in megabytes (the form says so, naming this setting).
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=200)
# An upload is deleted when its import ends; one whose import never ran, after this many days.
IMPORT_UPLOAD_RETENTION_DAYS = env.int("IMPORT_UPLOAD_RETENTION_DAYS", default=7)
if IMPORT_MAX_UPLOAD_MB < 1 or IMPORT_UPLOAD_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("IMPORT_MAX_UPLOAD_MB and IMPORT_UPLOAD_RETENTION_DAYS must be positive integers")


def _date_setting(name: str, default: str, *, tomorrow: bool) -> dt.date | None:
    """A date written 2015-01-01 (or, where ``tomorrow``, the word tomorrow: None)."""
    value = env.str(name, default=default).strip()
    if tomorrow and value.lower() == "tomorrow":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        also = " or the word tomorrow" if tomorrow else ""
        raise ImproperlyConfigured(f"{name} must be a date written like 2015-01-01{also}, got {value!r}") from None


# The dates an imported order (or consent) may have, in the shop's time zone: dates outside
# them are typos or placeholders ("9999-12-31" for no date) and are rejected. None: tomorrow,
# whenever the import runs.
IMPORT_EARLIEST_DATE = _date_setting("IMPORT_EARLIEST_DATE", "1970-01-01", tomorrow=False)
IMPORT_LATEST_DATE = _date_setting("IMPORT_LATEST_DATE", "tomorrow", tomorrow=True)
if IMPORT_LATEST_DATE is not None and IMPORT_LATEST_DATE < IMPORT_EARLIEST_DATE:
    raise ImproperlyConfigured(
        f"IMPORT_LATEST_DATE ({IMPORT_LATEST_DATE}) is before IMPORT_EARLIEST_DATE ({IMPORT_EARLIEST_DATE})"
    )

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
# An import task that finds its job running waits JOB_STALE_AFTER_SECONDS (and a beat) to see
# whether its worker is dead: a countdown like any other, below the visibility timeout.
_visibility_timeout = CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
if not (
    0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < _visibility_timeout
    and JOB_STALE_AFTER_SECONDS + JOB_HEARTBEAT_SECONDS < _visibility_timeout
):
    raise ImproperlyConfigured(
        "Celery's limits must nest: CELERY_BROKER_VISIBILITY_TIMEOUT > CELERY_TASK_TIME_LIMIT > "
        "CELERY_TASK_SOFT_TIME_LIMIT > 0, and CELERY_BROKER_VISIBILITY_TIMEOUT > JOB_STALE_AFTER_SECONDS + "
        f"JOB_HEARTBEAT_SECONDS; got {_visibility_timeout}, {CELERY_TASK_TIME_LIMIT}, "
        f"{CELERY_TASK_SOFT_TIME_LIMIT}, {JOB_STALE_AFTER_SECONDS} + {JOB_HEARTBEAT_SECONDS}"
    )

# Web requests only (PostgreSQL, with a Celery broker): a statement may run this long and wait this
# long for a lock, then the page says the shop is busy (503) instead of holding a gunicorn worker
# while an import or a segmentation run holds the lock. 0 turns one off. Workers and commands never
# get them: long imports are normal there.
WEB_STATEMENT_TIMEOUT_MS = env.int("WEB_STATEMENT_TIMEOUT_MS", default=30_000)
WEB_LOCK_TIMEOUT_MS = env.int("WEB_LOCK_TIMEOUT_MS", default=5_000)
if WEB_STATEMENT_TIMEOUT_MS < 0 or WEB_LOCK_TIMEOUT_MS < 0:
    raise ImproperlyConfigured(
        f"WEB_STATEMENT_TIMEOUT_MS and WEB_LOCK_TIMEOUT_MS must be 0 or more, got {WEB_STATEMENT_TIMEOUT_MS} "
        f"and {WEB_LOCK_TIMEOUT_MS}"
    )

# --- Campaigns ---
# Where the shop's site is reached from outside: the base of unsubscribe links, tracked links and
# Twilio's status callbacks.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SHOP_NAME = env.str("SHOP_NAME", default="Our shop")
# Messages a send task claims at a time (the 500-1,000), and sent concurrently per task.
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=500)
CAMPAIGN_SEND_CONCURRENCY = env.int("CAMPAIGN_SEND_CONCURRENCY", default=16)
# Provider rate limits in messages per second for all workers together (0: no limit). Twilio
# long codes take about 1 SMS per second; ESPs publish theirs.
EMAIL_RATE_LIMIT = env.float("EMAIL_RATE_LIMIT", default=0)
SMS_RATE_LIMIT = env.float("SMS_RATE_LIMIT", default=0)
# The shared rate budget lives in Redis (every worker on every host draws from it); empty: the
# broker's Redis when the broker is Redis, else a budget per process (one process: the demo).
RATE_LIMIT_REDIS_URL = env.str(
    "RATE_LIMIT_REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
# A temporary provider error is retried with back-off this many times before the message fails.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=5)
# A claimed batch whose worker has not come back after this long is claimed again (nothing of it
# reached the provider); a message left "sending" that long is marked unknown for review.
CAMPAIGN_CLAIM_TIMEOUT_SECONDS = env.int("CAMPAIGN_CLAIM_TIMEOUT_SECONDS", default=900)
for _name in ("CAMPAIGN_BATCH_SIZE", "CAMPAIGN_SEND_CONCURRENCY", "MESSAGE_MAX_ATTEMPTS", "CAMPAIGN_CLAIM_TIMEOUT_SECONDS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be a positive whole number, got {globals()[_name]}")
for _name in ("EMAIL_RATE_LIMIT", "SMS_RATE_LIMIT"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (no limit) or a number of messages per second")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "filters": {"without_traceback": {"()": "segcampaign.log_filters.WithoutTraceback"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A wrong Host header is one line ("Invalid HTTP_HOST header: ..."), not a traceback per request.
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
    },
}

# The index of a segment's current members carries their row ids (INCLUDE) on PostgreSQL, where the
# admin's deep member pages need it; SQLite, the demo's database, builds it without them, as Django's
# own W040 warning says on every command. The index works either way: the warning is only noise there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
