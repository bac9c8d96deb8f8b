"""Bulk reads that feed segmentation: whole tables into data frames, one query each.

Internal to the segments app (other apps read through segments.selectors). A million customers
do not go through model instances: rows come back as CSV through PostgreSQL's COPY (about ten
times faster than fetching tuples) or, on SQLite, as tuples straight into a frame.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db import connection

from segcampaign.dbframes import db_datetime, id_list, read_frame  # noqa: F401  (used as frames.*)

from . import features
from .models import Customer, CustomerStats, Membership, Order, SegmentationRun

CUSTOMER_TABLE = Customer._meta.db_table
ORDER_TABLE = Order._meta.db_table
STATS_TABLE = CustomerStats._meta.db_table
MEMBERSHIP_TABLE = Membership._meta.db_table
# Amounts are stored to the cent. SQLite has no decimal type: its SUM adds them as binary
# floats (0.10 + 0.20 = 0.30000000000000004) where PostgreSQL adds exact numerics, so sums
# are rounded back to the cent as they are read and both databases give the same features
# (and the same segments: a last-bit difference reorders the fit's hash-keyed sample).
MONEY_PLACES = Order._meta.get_field("amount").decimal_places


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _epoch(column: str) -> str:
    """SQL for a timestamp column as seconds since 1970 (NULL stays NULL)."""
    if _is_postgres():
        return f"extract(epoch from {column})::float8"
    # strftime('%s') drops the fraction of a second, which PostgreSQL keeps: an order at
    # 00:00:00.5 was a day further back here. Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    return f"(CAST(strftime('%%s', {column}) AS REAL) + COALESCE(CAST(NULLIF(substr({column}, 20), '') AS REAL), 0))"


def _to_utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(seconds, errors="coerce"), unit="s", utc=True)


def aggregate_sql(
    *, customer_filter: str = "", filter_params: list | tuple = (), before: dt.datetime | None = None
) -> tuple[str, list]:
    """The per-customer order aggregate, in SQL, with the same meaning as features.order_stats.

    Kept as one statement so the database does the grouping over millions of orders and only
    one row per customer travels.
    """
    where, params = [], []
    if customer_filter:
        where.append(customer_filter)
        params.extend(filter_params)
    if before is not None:
        where.append("ordered_at < %s")
        params.append(db_datetime(before))
    sql = f"""
        SELECT customer_id,
               MIN(ordered_at) AS first_at,
               MAX(CASE WHEN is_return THEN NULL ELSE ordered_at END) AS last_at,
               SUM(CASE WHEN is_return THEN 0 ELSE 1 END) AS frequency,
               SUM(CASE WHEN is_return THEN 1 ELSE 0 END) AS returns,
               SUM(amount) AS monetary,
               SUM(CASE WHEN is_return THEN 0 ELSE quantity END) AS quantity
          FROM {ORDER_TABLE}
         {"WHERE " + " AND ".join(where) if where else ""}
         GROUP BY customer_id"""
    return sql, params


STATS_COLUMNS = ["customer_id", "first_order_at", "last_order_at", "frequency", "returns", "monetary", "quantity"]


def _stats_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame["first_order_at"] = _to_utc(frame["first_order_at"])
    frame["last_order_at"] = _to_utc(frame["last_order_at"])
    for column in ("frequency", "returns", "quantity"):
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    frame["monetary"] = pd.to_numeric(frame["monetary"]).astype("float64").round(MONEY_PLACES)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    return frame.set_index("customer_id").sort_index()


def order_stats_frame(
    *, customer_ids: np.ndarray | None = None, before: dt.datetime | None = None, from_orders: bool = False
) -> pd.DataFrame:
    """Order stats per customer as a frame indexed by customer id.

    From the maintained CustomerStats table, unless `from_orders` asks for a fresh aggregate
    of the orders, or `before` for history up to a past date (aggregated from the orders too).
    """
    if before is not None or from_orders:
        sql, params = aggregate_sql(before=before)
        inner = f"SELECT agg.customer_id, {', '.join(_placeholders_for_aggregate())} FROM ({sql}) AS agg"
        return _stats_frame(read_frame(inner, params, columns=STATS_COLUMNS))
    sql = f"""SELECT customer_id, {_epoch('first_order_at')}, {_epoch('last_order_at')}, frequency, returns,
                     monetary, quantity FROM {STATS_TABLE}"""
    params: list = []
    if customer_ids is not None:
        if len(customer_ids) == 0:
            return _stats_frame(pd.DataFrame(columns=STATS_COLUMNS))
        sql += f" WHERE customer_id IN ({id_list(customer_ids)})"
    return _stats_frame(read_frame(sql, params, columns=STATS_COLUMNS))


def _placeholders_for_aggregate() -> list[str]:
    # Columns of aggregate_sql's SELECT, renamed so the outer query can convert timestamps.
    return [
        _epoch("agg.first_at"),
        _epoch("agg.last_at"),
        "agg.frequency",
        "agg.returns",
        "agg.monetary",
        "agg.quantity",
    ]


def customers_frame(*, attributes: list[str] = (), customer_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Every customer (or the given ones): created_at and the requested attributes, indexed by id."""
    selects = ["id", _epoch("created_at")]
    for name in attributes:
        if _is_postgres():
            selects.append(f"attributes ->> '{_json_key(name)}'")
        else:
            selects.append(f"json_extract(attributes, '$.\"{_json_key(name)}\"')")
    sql = f"SELECT {', '.join(selects)} FROM {CUSTOMER_TABLE}"
    if customer_ids is not None:
        sql += f" WHERE id IN ({id_list(customer_ids)})" if len(customer_ids) else " WHERE 1=0"
    frame = read_frame(sql, [], columns=["customer_id", "created_at", *attributes])
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["created_at"] = _to_utc(frame["created_at"])
    # Attribute values come back as stored (numbers, or text from JSON); features.py checks
    # that they are numeric and names the customer when one is not.
    return frame.set_index("customer_id").sort_index()


# Customer columns other apps may read in bulk (segments.audience): contact, consent, names.
CUSTOMER_COLUMNS = frozenset(
    ("email", "phone", "first_name", "last_name", "country", "time_zone", "locale", "email_consent",
     "sms_consent", "attributes")
)
# Those that hold text, read as text even when every value looks like a number (phone numbers).
TEXT_COLUMNS = CUSTOMER_COLUMNS - {"email_consent", "sms_consent"}


def customers_columns_frame(
    *, columns: list[str], customer_ids: np.ndarray | None = None, segment_ids: list[int] | None = None
) -> pd.DataFrame:
    """The given customer columns, indexed by customer id: for the given ids, or for the current
    members of the given segments (one query either way)."""
    unknown = set(columns) - CUSTOMER_COLUMNS
    if unknown:
        raise ValueError(f"not customer columns that may be read: {sorted(unknown)}")
    sql = f"SELECT id, {', '.join(columns)} FROM {CUSTOMER_TABLE}"
    if customer_ids is not None:
        sql += f" WHERE id IN ({id_list(customer_ids)})" if len(customer_ids) else " WHERE 1=0"
    elif segment_ids is not None:
        sql += (
            f" WHERE id IN (SELECT customer_id FROM {MEMBERSHIP_TABLE} WHERE ended_run_id IS NULL AND segment_id IN "
            f"({id_list(np.asarray(segment_ids)) or 'NULL'}))"
        )
    frame = read_frame(sql, [], columns=["customer_id", *columns], text=[c for c in columns if c in TEXT_COLUMNS])
    frame["customer_id"] = frame["customer_id"].astype("int64")
    return frame.set_index("customer_id").sort_index()


def _json_key(name: str) -> str:
    # Runs check their names when they are created; this keeps any other caller's out of SQL too.
    return features.check_feature_name(name)


def changed_customer_ids(*, since: dt.datetime) -> np.ndarray:
    frame = read_frame(
        f"SELECT id FROM {CUSTOMER_TABLE} WHERE updated_at > %s", [db_datetime(since)], columns=["id"]
    )
    return frame["id"].to_numpy(dtype="int64")


def current_membership(*, customer_ids: np.ndarray | None = None) -> pd.DataFrame:
    """customer_id -> segment_id of every customer's (or the given customers') current membership."""
    sql = f"SELECT customer_id, segment_id FROM {MEMBERSHIP_TABLE} WHERE ended_run_id IS NULL"
    if customer_ids is not None:
        sql += f" AND customer_id IN ({id_list(customer_ids)})" if len(customer_ids) else " AND 1=0"
    frame = read_frame(sql, [], columns=["customer_id", "segment_id"])
    return frame.astype("int64").set_index("customer_id").sort_index()


def membership_at(run: SegmentationRun) -> pd.DataFrame:
    """customer_id -> segment_id as it stood right after `run`."""
    frame = read_frame(
        f"""SELECT customer_id, segment_id FROM {MEMBERSHIP_TABLE}
             WHERE run_id <= %s AND (ended_run_id IS NULL OR ended_run_id > %s)""",
        [run.pk, run.pk],
        columns=["customer_id", "segment_id"],
    )
    return frame.astype("int64").set_index("customer_id").sort_index()

