"""Who a campaign can speak to: the members of segments, filtered by conditions, and what a
message needs to know about each of them. Reads only; other apps reach these through
segments.selectors.

Conditions are data (`{"field": "monetary", "op": ">=", "value": 100}`) written by marketers in
admin or in a campaign file. They compile to ORM lookups, never to code: a field is a customer
field, an order figure from CustomerStats, or an imported attribute, and an operator is one of
OPERATORS. `condition_problems` says what is wrong with a list of them, in words.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from django.db.models import Count, F, FloatField, Func, Q
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils import timezone

from segments import frames
from segments.models import Customer, Membership

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains")
_LOOKUPS = {"==": "exact", "!=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "in": "in",
            "not in": "in", "contains": "icontains"}
_NEGATED = {"!=", "not in"}

# Customer fields a condition may test, with the kind of value they hold.
CUSTOMER_FIELDS = {
    "country": "text", "first_name": "text", "last_name": "text", "email": "text", "phone": "text",
    "time_zone": "text", "locale": "text", "email_consent": "bool", "sms_consent": "bool",
}
# Order figures (CustomerStats) by the feature names a marketer knows from the segment pages.
ORDER_FIGURES = {
    "monetary": "stats__monetary",
    "frequency": "stats__frequency",
    "products_purchased": "stats__quantity",
    "returns": "stats__returns",
}
# Day counts measured from now: a condition on them becomes one on the date they count from.
DAY_COUNTS = {"recency_days": "stats__last_order_at", "tenure_days": "stats__first_order_at"}
_ATTRIBUTE = re.compile(r"(?:attributes\.)?([A-Za-z0-9_-]+)")


def condition_problems(conditions) -> list[str]:
    """What is wrong with a list of conditions, one sentence each naming its position."""
    if not isinstance(conditions, list):
        return ["conditions must be a list of {field, op, value}"]
    problems = []
    for i, condition in enumerate(conditions):
        where = f"conditions[{i}]"
        if not isinstance(condition, dict) or set(condition) != {"field", "op", "value"}:
            problems.append(f"{where}: must have exactly the keys field, op and value")
            continue
        field, op, value = condition["field"], condition["op"], condition["value"]
        if op not in OPERATORS:
            problems.append(f"{where}.op: {op!r} is not one of {', '.join(OPERATORS)}")
        if not isinstance(field, str) or not _ATTRIBUTE.fullmatch(field):
            problems.append(f"{where}.field: {field!r} is not a customer field, an order figure or an attribute name")
            continue
        if op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                problems.append(f"{where}.value: {op!r} takes a non-empty list")
        elif isinstance(value, list | dict):
            problems.append(f"{where}.value: {op!r} takes one value, not a list")
        elif field in ORDER_FIGURES or field in DAY_COUNTS or op in ("<", "<=", ">", ">="):
            if field not in CUSTOMER_FIELDS and not _is_number(value):
                problems.append(f"{where}.value: {field} {op} needs a number, got {value!r}")
        if field in DAY_COUNTS and op in ("in", "not in", "contains"):
            problems.append(f"{where}.op: {field} is compared with ==, !=, <, <=, > or >=")
    return problems


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compile_conditions(conditions: Sequence[dict], *, now: dt.datetime | None = None) -> Q:
    """One Q over Customer that holds when every condition does."""
    problems = condition_problems(list(conditions))
    if problems:
        raise ValueError("; ".join(problems))
    now = now or timezone.now()
    query = Q()
    for condition in conditions:
        query &= _compile(condition["field"], condition["op"], condition["value"], now)
    return query


def _compile(field: str, op: str, value, now: dt.datetime) -> Q:
    if field in DAY_COUNTS:
        return _day_count(DAY_COUNTS[field], op, value, now)
    if field in CUSTOMER_FIELDS:
        path = field
    elif field in ORDER_FIGURES:
        path = ORDER_FIGURES[field]
    else:
        key = _ATTRIBUTE.fullmatch(field).group(1)
        if op in ("<", "<=", ">", ">="):
            # "spend >= 100" compares numbers; an attribute that holds text for some customer
            # ("unknown") is not a number and does not match (JSON would order it below 100).
            return Q(_ORDERINGS[op](_JSONNumber("attributes", key), value))
        path = f"attributes__{key}"
    test = Q(**{f"{path}__{_LOOKUPS[op]}": value})
    return ~test if op in _NEGATED else test


_ORDERINGS = {"<": LessThan, "<=": LessThanOrEqual, ">": GreaterThan, ">=": GreaterThanOrEqual}


class _JSONNumber(Func):
    """The number stored under `key` in a JSON column, NULL when it holds anything else."""

    output_field = FloatField()

    def __init__(self, column: str, key: str):
        super().__init__(F(column))
        self.key = key

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"CASE WHEN jsonb_typeof({column} -> %s) = 'number' THEN ({column} ->> %s)::double precision END"
        return sql, [*params, self.key, *params, self.key]

    def as_sql(self, compiler, connection, **extra):  # SQLite
        column, params = compiler.compile(self.source_expressions[0])
        path = f'$."{self.key}"'
        sql = f"CASE WHEN json_type({column}, %s) IN ('integer', 'real') THEN json_extract({column}, %s) END"
        return sql, [*params, path, *params, path]


def _day_count(path: str, op: str, days, now: dt.datetime) -> Q:
    """`recency_days >= 30` holds when the last order was at least 30 whole days ago, i.e. at
    or before now - 30 days. Customers without orders have no day count and never match."""
    days = int(days)

    def at_least(n: int) -> Q:  # day count >= n
        return Q(**{f"{path}__lte": now - dt.timedelta(days=n)})

    def below(n: int) -> Q:  # day count < n
        return Q(**{f"{path}__gt": now - dt.timedelta(days=n)})

    tests = {
        ">=": lambda: at_least(days),
        ">": lambda: at_least(days + 1),
        "<": lambda: below(days),
        "<=": lambda: below(days + 1),
        "==": lambda: at_least(days) & below(days + 1),
        "!=": lambda: below(days) | at_least(days + 1),
    }
    return tests[op]()


# --- Reads for campaigns --------------------------------------------------------------------------


def audience_frame(*, segment_ids: Iterable[int], conditions: Sequence[dict] = ()) -> pd.DataFrame:
    """customer_id, segment_id of the current members of the segments who pass the conditions,
    as one query (COPY on PostgreSQL), sorted by customer."""
    members = Membership.objects.filter(ended_run__isnull=True, segment_id__in=list(segment_ids))
    if conditions:
        members = members.filter(customer__in=Customer.objects.filter(compile_conditions(conditions)))
    sql, params = members.order_by().values_list("customer_id", "segment_id").query.sql_with_params()
    frame = frames.read_frame(sql, params, columns=["customer_id", "segment_id"])
    return frame.astype("int64").sort_values("customer_id", kind="stable").reset_index(drop=True)


# Whom a channel can reach at all: an address, and consent to marketing on that channel. A
# campaign also leaves out the suppressed (unsubscribed, STOP, hard bounce) when it plans.
EMAIL_REACHABLE = Q(email_consent=True) & ~Q(email="")
SMS_REACHABLE = Q(sms_consent=True) & ~Q(phone="")


def segment_reach(*, segment_id: int) -> dict[str, int]:
    """{members, email, sms}: the segment's current members, and how many of them can be
    reached by email and by SMS (one aggregate query)."""
    members = Customer.objects.filter(memberships__segment_id=segment_id, memberships__ended_run__isnull=True)
    return members.order_by().aggregate(
        members=Count("pk"), email=Count("pk", filter=EMAIL_REACHABLE), sms=Count("pk", filter=SMS_REACHABLE)
    )


def contacts_frame(*, segment_ids: Iterable[int]) -> pd.DataFrame:
    """email, phone, email_consent, sms_consent, time_zone of the current members of the
    segments, by customer id (one query)."""
    columns = ["email", "phone", "email_consent", "sms_consent", "time_zone"]
    frame = _text(frames.customers_columns_frame(columns=columns, segment_ids=list(segment_ids)))
    for flag in ("email_consent", "sms_consent"):
        frame[flag] = _booleans(frame[flag])
    return frame


def message_data_frame(*, customer_ids: np.ndarray) -> pd.DataFrame:
    """What a message template may show about each customer, by id: names, contact, country,
    attributes (dicts) and the order figures (frequency, monetary, last/first order, quantity)."""
    frame = _customers(customer_ids, ["first_name", "last_name", "email", "phone", "country", "attributes"])
    frame["attributes"] = [json.loads(text) if isinstance(text, str) and text else {} for text in frame["attributes"]]
    stats = frames.order_stats_frame(customer_ids=np.asarray(customer_ids, dtype=np.int64))
    return frame.join(stats[["frequency", "monetary", "quantity", "last_order_at", "first_order_at"]])


def _customers(customer_ids: np.ndarray, columns: list[str]) -> pd.DataFrame:
    ids = np.unique(np.asarray(customer_ids, dtype=np.int64))
    return _text(frames.customers_columns_frame(columns=columns, customer_ids=ids))


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    # Empty text comes back from CSV as missing; the columns are NOT NULL, so it was "".
    for column in frame.columns:
        if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = frame[column].fillna("").astype(str)
    return frame


def _booleans(values: pd.Series) -> pd.Series:
    # COPY writes t/f; SQLite returns 1/0.
    if pd.api.types.is_bool_dtype(values.dtype):
        return values
    return values.astype(str).str.lower().isin(["t", "true", "1"])


# Reserved for examples (RFC 2606): no real customer has an address there, the sample shop does.
SAMPLE_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


def holds_sample_shop() -> bool:
    """Whether the database holds the generated sample shop (its customers' addresses are at
    the reserved example domains; their phone numbers are real mobile ranges)."""
    query = Q()
    for domain in SAMPLE_EMAIL_DOMAINS:
        query |= Q(email__endswith=f"@{domain}")
    return Customer.objects.filter(query).exists()


def rfm_score_edges() -> dict[str, list[float]]:
    """Quintile edges of the buyers' recency (days, negated: higher is better), frequency and
    monetary from the maintained order stats, so a message can show a customer's RFM scores
    without ranking the whole shop again."""
    stats = frames.order_stats_frame()
    buyers = stats[stats["frequency"] > 0]
    if buyers.empty:
        return {}
    now = pd.Timestamp.now(tz="UTC")
    recency = (now - buyers["last_order_at"]).dt.days.to_numpy(dtype=np.float64)
    points = [20, 40, 60, 80]
    return {
        "r": np.percentile(-recency, points).tolist(),
        "f": np.percentile(buyers["frequency"].to_numpy(dtype=np.float64), points).tolist(),
        "m": np.percentile(buyers["monetary"].to_numpy(dtype=np.float64), points).tolist(),
    }
