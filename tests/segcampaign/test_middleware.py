"""Web requests wait for the database only so long: "busy, try again" instead of a hung worker."""

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from segcampaign import bulk
from segments.importing import import_orders

from ..segments.conftest import Worker

pytestmark = pytest.mark.postgres

ORDERS_URL = reverse("admin:segments_order_changelist")


@pytest.fixture
def with_a_broker(settings):
    # Without one, imports and runs execute inside the web request and get no timeouts.
    settings.CELERY_TASK_ALWAYS_EAGER = False


def show(name):
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_page_that_needs_a_lock_an_import_holds_says_busy_instead_of_hanging(admin_client, with_a_broker,
                                                                                 settings, tmp_path, monkeypatch):
    settings.WEB_LOCK_TIMEOUT_MS = 300
    settings.IMPORT_CHUNK_ROWS = 2
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\nO1,C1,2024-03-01,10.00\nO2,C2,2024-03-01,10.00\n"
                    "O3,C1,2024-03-02,10.00\n")
    loading, release = threading.Event(), threading.Event()
    real_copy = bulk.copy_rows

    def copy_then_wait(cursor, table, *args, **options):
        loading.set()
        release.wait(20)  # the test fails rather than hangs if the page waits for the import
        return real_copy(cursor, table, *args, **options)

    monkeypatch.setattr(bulk, "copy_rows", copy_then_wait)
    first_load = Worker(lambda: import_orders(source=path))  # holds the order table until it commits
    first_load.start()
    assert loading.wait(30)

    started = time.monotonic()
    response = admin_client.get(ORDERS_URL)
    waited = time.monotonic() - started
    release.set()

    assert response.status_code == 503
    assert "busy importing or segmenting" in response.content.decode()
    assert "try again shortly" in response.content.decode()
    assert response["Retry-After"] == "30"
    assert waited < 5
    assert first_load.join_result().first_load
    assert show("lock_timeout") == "0"  # the connection outlives the request, its timeouts do not
    assert admin_client.get(ORDERS_URL).status_code == 200


@pytest.mark.django_db
def test_a_web_request_runs_with_the_timeouts_and_leaves_the_connection_without_them(admin_client, with_a_broker,
                                                                                      settings):
    settings.WEB_STATEMENT_TIMEOUT_MS, settings.WEB_LOCK_TIMEOUT_MS = 30_000, 5_000
    seen = []

    def record(execute, sql, params, many, context):
        if "set_config" in sql:
            seen.append(params)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert admin_client.get(ORDERS_URL).status_code == 200

    assert seen == [["30000ms", "5000ms"]]
    assert (show("statement_timeout"), show("lock_timeout")) == ("0", "0")


@pytest.mark.django_db
def test_without_a_broker_the_work_runs_in_the_request_and_gets_no_timeouts(admin_client, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert admin_client.get(ORDERS_URL).status_code == 200

    assert not any("statement_timeout" in sql for sql in seen)
