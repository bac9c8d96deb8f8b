"""Suite-wide fixtures: services that some tests need for real.

A test marked `postgres` runs only when the test database is PostgreSQL; one marked
`redis` only when TEST_REDIS_URL answers. Without the service the test is skipped with the
reason, except under CI=true, where a missing service is a failure: CI must not go green by
skipping the tests that matter.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required services must be reachable)", pytrace=False)
    pytest.skip(reason)


def _redis_reachable():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        return str(exc)
    return None


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            _missing(
                "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test "
                f"(the test database is {connection.vendor})"
            )
    if item.get_closest_marker("redis"):
        problem = _redis_reachable()
        if problem:
            _missing(f"needs Redis at {REDIS_URL}: {problem}")


@pytest.fixture
def redis_url():
    return REDIS_URL


@pytest.fixture
def copy_statements(monkeypatch):
    """The COPY statements psycopg is given during the test (PostgreSQL only)."""
    from django.db import connection

    statements = []
    with connection.cursor() as cursor:
        original = type(cursor.cursor).copy

    def spy(self, statement, *args, **kwargs):
        statements.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(type(cursor.cursor), "copy", spy)
    return statements


@pytest.fixture
def sql_sent(request):
    """A function that returns every SQL statement the test has sent so far: Django's queries
    and, on PostgreSQL, the COPY statements psycopg is given (which Django does not see)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    copies = request.getfixturevalue("copy_statements") if connection.vendor == "postgresql" else []
    with CaptureQueriesContext(connection) as queries:
        yield lambda: [*copies, *(query["sql"] for query in queries.captured_queries)]


# --- Real Celery workers ------------------------------------------------------------------------


@pytest.fixture
def redis_broker(redis_url):
    """Point this process's Celery app at Redis, so what the test queues goes to real workers."""
    from segcampaign.celery import app

    changes = {"broker_url": redis_url, "task_always_eager": False, "broker_connection_retry_on_startup": False}
    # Only these keys: listing the whole configuration fails while a test overrides Django settings.
    previous = {key: app.conf[key] for key in changes}
    app.conf.update(changes)
    # Producers made earlier in the session still point at the in-memory broker: drop them
    # (app.close() keeps the producer pool when the connection pool is already gone).
    app.close()
    app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.update(previous)
        app.close()
        app.amqp._producer_pool = None


class WorkerProcess:
    """A `celery -A segcampaign worker` process started by a test, and its log."""

    READY_SECONDS = 45

    def __init__(self, name: str, env: dict, log: Path):
        self.name, self.log = name, log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "segcampaign", "worker", "--pool=solo",
                 f"--hostname={name}@%h", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.hostname = f"{name}@{socket.gethostname()}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, *, timeout: float = READY_SECONDS) -> None:
        """Until `text` appears in the log; fails with the log if the worker exits or time runs out."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} never logged {text!r}:\n{self.output()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would: nothing is cleaned up or acked."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def worker_processes(redis_url, redis_broker, tmp_path):
    """Start real worker processes on Redis and on the test database: `start(name, **environment)`.

    The test must commit what the workers read (`django_db(transaction=True)`). Every worker
    is killed when the test ends, whatever happened, and the Redis database emptied, so no
    message of this test reaches another.
    """
    import redis
    from django.db import connection

    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}"
        f":{database['PORT'] or 5432}/{database['NAME']}"
    )
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    started: list[WorkerProcess] = []
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()

    def start(name: str = "worker1", **environment) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": "",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "TMPDIR": str(worker_tmp),  # a killed worker's copy of an upload stays with the test
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in environment.items()},
        }
        worker = WorkerProcess(name, env, tmp_path / f"{name}.log")
        started.append(worker)
        worker.wait_for(" ready.")
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.kill()
        broker.flushdb()
