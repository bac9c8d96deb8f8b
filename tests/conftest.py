"""Suite-wide fixtures: services that some tests need for real.

A test marked `postgres` runs only when the test database is PostgreSQL; one marked
`redis` only when TEST_REDIS_URL answers. Without the service the test is skipped with the
reason, except under CI=true, where a missing service is a failure: CI must not go green by
skipping the tests that matter.
"""

import os

import pytest

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
