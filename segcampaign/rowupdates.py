"""Update many rows, each with values of its own, in one statement.

Django's `bulk_update` builds a CASE WHEN expression per column with a branch per row: for a
few hundred messages with their HTML it took two thirds of a send batch's time (profiled:
30 of 44 s for two batches of 500 emails). Here the values travel as one VALUES list, joined to the table on its primary key:

    WITH v(pk, a, b) AS (VALUES (%s, %s, %s), ...)
    UPDATE t SET a = v.a, b = v.b FROM v WHERE t.id = v.pk [AND condition] RETURNING t.id

`extra_set` adds assignments that are the same for every row (`attempts = attempts + 1`) and
`condition` a check every row must pass (`status = 'claimed'`): a row that fails it is not
written and not returned, so the caller learns exactly which rows it changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection as default_connection
from django.db.models import Model

# The most parameters a statement may bind: SQLite's default SQLITE_MAX_VARIABLE_NUMBER, and
# PostgreSQL's protocol limit.
_SQLITE_PARAMETERS = 32_766
_POSTGRES_PARAMETERS = 65_535


def update_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    extra_set: str = "",
    extra_params: Sequence = (),
    condition: str = "",
    condition_params: Sequence = (),
    connection=None,
) -> list[int]:
    """Set `columns` (attribute names of `model`'s concrete fields) of each row given as
    (pk, value, ...); returns the primary keys of the rows written, sorted."""
    if not rows:
        return []
    connection = connection or default_connection
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    names = [qn(field.column) for field in fields]
    aliases = ", ".join(["__pk", *names])
    assignments = ", ".join([*(f"{name} = v.{name}" for name in names), *([extra_set] if extra_set else [])])
    where = f"{table}.{pk} = v.__pk" + (f" AND ({condition})" if condition else "")
    prepared = [
        (row[0], *(field.get_db_prep_save(value, connection) for field, value in zip(fields, row[1:], strict=True)))
        for row in rows
    ]
    if connection.vendor == "postgresql":
        # Each value a parameter of its own, typed by a cast: psycopg dumps strings in C, where
        # an array of them would be escaped in Python (seconds for a batch of HTML).
        types = [meta.pk.db_type(connection), *(field.db_type(connection) for field in fields)]
        types = ["bigint" if t in ("serial", "bigserial") else t for t in types]
        placeholders = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
        limit = _POSTGRES_PARAMETERS
    else:
        placeholders = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        limit = _SQLITE_PARAMETERS
    step = max(1, (limit - len(extra_params) - len(condition_params)) // (len(fields) + 1))
    written: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), step):
            part = prepared[start : start + step]
            cursor.execute(
                f"WITH v({aliases}) AS (VALUES {', '.join([placeholders] * len(part))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {where} RETURNING {table}.{pk}",
                [*(value for row in part for value in row), *extra_params, *condition_params],
            )
            written.extend(row[0] for row in cursor.fetchall())
    return sorted(written)
