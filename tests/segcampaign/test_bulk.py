"""segcampaign.bulk: copy_rows and upsert_rows on either database; on PostgreSQL, binary COPY
stores exactly what the text COPY path stores."""

import json
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

from segcampaign import bulk
from segments.models import Customer

pytestmark = pytest.mark.django_db

COLUMNS = {
    "big": "bigint",
    "small": "integer",
    "price": "numeric(12,2)",
    "share": "double precision",
    "flag": "boolean",
    "name": "varchar(20)",
    "note": "text",
    "data": "jsonb",
    "at": "timestamptz",
}


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "big": pd.array([1, 2**40, None, -5, 7, 8], dtype="Int64"),
            "small": pd.array([1, 2, None, -3, 0, 5], dtype="Int64"),
            "price": [94.42, 12.345, -12.345, 0.005, np.nan, 9_999_999_999.99],
            "share": [0.1, np.nan, -1e300, 1 / 3, 0.0, 2.5],
            "flag": pd.array([True, False, None, True, False, True], dtype="boolean"),
            "name": pd.array(["tab\there", "new\nline", "back\\slash", None, "", "Zoë"], dtype="str"),
            "note": pd.array(["\\N", "quote\"d", None, "x" * 300, "€", "a,b"], dtype="str"),
            "data": pd.array(['{"a": 1}', "{}", '{"b": [1, 2]}', '{"c": "é"}', "[]", "null"], dtype="str"),
            "at": pd.to_datetime(
                ["2024-03-31 01:30:00+00:00", "2024-10-27 01:30:00.123456+00:00", None,
                 "1999-12-31 23:59:59+00:00", "2000-01-01 00:00:00+00:00", "2038-01-19 03:14:08+00:00"], utc=True, format="ISO8601"
            ),
        }
    )


def stored(rows: pd.DataFrame, *, binary: bool, monkeypatch) -> list[tuple]:
    if not binary:
        monkeypatch.setattr(bulk, "_arrow_type", lambda pg_type: None)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bulk_types")
        cursor.execute(
            "CREATE TEMPORARY TABLE bulk_types (id serial, "
            + ", ".join(f"{name} {pg_type}" for name, pg_type in COLUMNS.items()) + ")"
        )
        count = bulk.copy_rows(cursor, "bulk_types", list(COLUMNS), rows)
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM bulk_types ORDER BY id")
        result = cursor.fetchall()
        cursor.execute("DROP TABLE bulk_types")
    monkeypatch.undo()
    assert count == len(rows)
    return result


@pytest.mark.postgres
def test_binary_copy_stores_the_same_values_as_text_copy(monkeypatch):
    binary = stored(frame(), binary=True, monkeypatch=monkeypatch)
    text = stored(frame(), binary=False, monkeypatch=monkeypatch)

    assert binary == text
    assert [row[2] for row in binary] == [Decimal("94.42"), Decimal("12.35"), Decimal("-12.35"), Decimal("0.01"),
                                          None, Decimal("9999999999.99")]
    assert binary[0][0] == 1 and binary[2][0] is None and binary[2][1] is None
    assert binary[1][5] == "new\nline" and binary[0][6] == "\\N" and binary[3][5] is None
    assert json.loads(binary[2][7]) == {"b": [1, 2]}
    assert binary[1][8] == datetime(2024, 10, 27, 1, 30, 0, 123456, tzinfo=timezone.utc)


@pytest.mark.postgres
def test_binary_copy_is_what_copy_rows_sends_for_these_types(copy_statements):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bulk_spy (n bigint, at timestamptz)")
        bulk.copy_rows(cursor, "bulk_spy", ["n", "at"],
                       pd.DataFrame({"n": [1], "at": pd.to_datetime(["2024-01-01"])}))  # naive: UTC
        cursor.execute("SELECT n, at FROM bulk_spy")
        row = cursor.fetchone()
        cursor.execute("DROP TABLE bulk_spy")

    assert copy_statements == ['COPY "bulk_spy" ("n", "at") FROM STDIN (FORMAT binary)']
    assert row == (1, datetime(2024, 1, 1, tzinfo=timezone.utc))


@pytest.mark.postgres
@pytest.mark.parametrize("binary", [True, False])
def test_a_value_too_long_for_its_column_fails_in_both_formats(binary, monkeypatch):
    from psycopg.errors import StringDataRightTruncation

    rows = frame()
    rows.loc[0, "name"] = "y" * 21
    with pytest.raises(StringDataRightTruncation, match="too long"):
        stored(rows, binary=binary, monkeypatch=monkeypatch)


@pytest.mark.postgres
def test_a_column_type_binary_copy_does_not_know_goes_as_text():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bulk_uuid (u uuid, n integer)")
        bulk.copy_rows(cursor, "bulk_uuid", ["u", "n"],
                       pd.DataFrame({"u": ["12345678-1234-5678-1234-567812345678"], "n": [3]}))
        cursor.execute("SELECT u::text, n FROM bulk_uuid")
        row = cursor.fetchone()
        cursor.execute("DROP TABLE bulk_uuid")

    assert row == ("12345678-1234-5678-1234-567812345678", 3)


def _roundtrip_copy_rows():
    rows = pd.DataFrame(
        {
            "external_id": pd.array(["tab\there", "new\nline", "back\\slash", "plain"], dtype="str"),
            "first_name": pd.array(["Zoë", "", "quote\"d", "\\N"], dtype="str"),
        }
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_test (external_id varchar(64), first_name varchar(100))")
        count = bulk.copy_rows(cursor, "copy_test", ["external_id", "first_name"], rows)
        count += bulk.copy_rows(cursor, "copy_test", ["external_id", "first_name"], [("tuple", None)])
        cursor.execute("SELECT external_id, first_name FROM copy_test ORDER BY external_id")
        stored = cursor.fetchall()
        cursor.execute("DROP TABLE copy_test")
    return count, stored


def test_copy_rows_keeps_tabs_newlines_backslashes_and_nulls():
    count, stored = _roundtrip_copy_rows()

    assert count == 5
    assert sorted(stored, key=lambda r: r[0]) == sorted(
        [("tab\there", "Zoë"), ("new\nline", ""), ("back\\slash", 'quote"d'), ("plain", "\\N"), ("tuple", None)],
        key=lambda r: r[0],
    )


@pytest.mark.postgres
def test_copy_rows_uses_copy_on_postgresql(copy_statements):
    count, stored = _roundtrip_copy_rows()

    assert count == 5 and len(stored) == 5
    assert copy_statements and all(s.startswith('COPY "copy_test"') for s in copy_statements)


@pytest.mark.postgres
def test_upsert_counts_inserts_and_updates_from_xmax_on_postgresql():
    now = datetime.now(timezone.utc)
    rows = pd.DataFrame({"external_id": ["a", "b"], "first_name": ["A", "B"]}, dtype="str")
    defaults = {"email": "", "phone": "", "last_name": "", "country": "", "time_zone": "", "locale": "",
                "email_consent": False, "email_consent_source": "", "sms_consent": False, "sms_consent_source": "",
                "attributes": "{}"}
    with connection.cursor() as cursor:
        first = bulk.upsert_rows(cursor, table="segments_customer", key="external_id", rows=rows, now=now,
                                 insert_defaults=defaults)
        rows.loc[1, "first_name"] = "Bee"
        rows.loc[2] = ["c", "C"]
        second = bulk.upsert_rows(cursor, table="segments_customer", key="external_id", rows=rows, now=now,
                                  insert_defaults=defaults)

    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (1, 1, 1)
    assert dict(Customer.objects.values_list("external_id", "first_name")) == {"a": "A", "b": "Bee", "c": "C"}


def test_copy_rows_of_an_empty_frame_writes_nothing():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_empty (n bigint)")
        count = bulk.copy_rows(cursor, "copy_empty", ["n"], pd.DataFrame({"n": pd.Series([], dtype="int64")}))
        cursor.execute("SELECT count(*) FROM copy_empty")
        stored = cursor.fetchone()[0]
        cursor.execute("DROP TABLE copy_empty")

    assert (count, stored) == (0, 0)


@pytest.mark.postgres
def test_an_upsert_the_database_aborts_raises_that_error_not_a_cleanup_error():
    # Dropping the temporary table in the aborted transaction used to fail in turn, and its
    # InternalError hid the OperationalError that the import task retries on.
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    other.set_autocommit(False)
    try:
        with other.cursor() as cursor:
            cursor.execute("LOCK TABLE segments_customer IN SHARE MODE")  # reads pass, writes wait
        rows = pd.DataFrame({"external_id": ["a"], "first_name": ["A"]}, dtype="str")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '100ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                bulk.upsert_rows(cursor, table="segments_customer", key="external_id", rows=rows,
                                 now=datetime.now(timezone.utc), insert_defaults={"attributes": "{}"})
    finally:
        other.rollback()
        other.close()
