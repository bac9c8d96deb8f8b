"""Web requests wait for the database only so long (PostgreSQL).

An import or a segmentation run may hold a lock for minutes (a first load of orders locks the
order table until it commits). A web request that needs it would hang a gunicorn worker that
long, and enough of them hang the site. Each request gets a ``lock_timeout`` and a
``statement_timeout`` (WEB_LOCK_TIMEOUT_MS, WEB_STATEMENT_TIMEOUT_MS) for its connection, and a
request that runs into one answers 503, "busy, try again shortly". The settings are reset when
the request ends: the connection outlives it (CONN_MAX_AGE).

Celery workers and management commands never pass through here, so long imports are left
alone. Without a broker (CELERY_TASK_ALWAYS_EAGER) an import or a run executes inside the web
request that starts it, so then nothing is set either.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import OperationalError, connection
from django.shortcuts import render
from psycopg import pq

logger = logging.getLogger(__name__)

# lock_not_available (lock_timeout), query_canceled (statement_timeout)
BUSY = {"55P03", "57014"}
RETRY_AFTER_SECONDS = 30


class DatabaseTimeouts:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _applies():
            return self.get_response(request)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                [f"{settings.WEB_STATEMENT_TIMEOUT_MS}ms", f"{settings.WEB_LOCK_TIMEOUT_MS}ms"],
            )
        try:
            return self.get_response(request)
        finally:
            _reset()

    def process_exception(self, request, exception):
        if not (_applies() and isinstance(exception, OperationalError)):
            return None
        if getattr(exception.__cause__, "sqlstate", None) not in BUSY:
            return None
        logger.warning("%s %s gave up waiting for the database: %s", request.method, request.path,
                       str(exception).splitlines()[0])
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _applies() -> bool:
    return (
        connection.vendor == "postgresql"
        and not settings.CELERY_TASK_ALWAYS_EAGER
        and bool(settings.WEB_STATEMENT_TIMEOUT_MS or settings.WEB_LOCK_TIMEOUT_MS)
    )


def _reset() -> None:
    raw = connection.connection
    if raw is None or raw.info.transaction_status == pq.TransactionStatus.INERROR:
        # Closed, or in a transaction that failed: its rollback undoes the SET as well.
        return
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout; RESET lock_timeout")
