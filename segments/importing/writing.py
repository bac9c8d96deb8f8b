"""Writing prepared chunks: upserts through segcampaign.bulk (COPY into a temporary table,
then one INSERT ... ON CONFLICT), one transaction per chunk, so a crash keeps the chunks
already done and a re-run is idempotent."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from django.db import connection, models, transaction
from django.utils import timezone

from segcampaign import bulk
from segments.importing.preparing import Prepared
from segments.models import Customer, Order


def insert_defaults(model, columns) -> dict[str, object]:
    """Values for the columns a file does not have, on insert: the model's defaults, which
    live in Python, not in the database. JSON goes as its text, which COPY takes as it is
    and an INSERT casts; a NULL-able column needs none."""
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.column in columns or f.null:
            continue
        value = f.get_default()
        defaults[f.column] = json.dumps(value) if isinstance(f, models.JSONField) else value
    return defaults


def _upsert_defaults(model, columns) -> dict[str, object]:
    # The upsert sets created_at and updated_at itself.
    return insert_defaults(model, [*columns, "created_at", "updated_at"])


CUSTOMERS = Customer._meta.db_table
ORDERS = Order._meta.db_table

# Writes one prepared chunk with the cursor at time ``now``: (orders or customers upserted,
# customers created for orders).
ChunkWrite = Callable[[Any, Prepared, datetime], tuple[bulk.UpsertResult, int]]


def write_customers(cursor, prepared: Prepared, now) -> tuple[bulk.UpsertResult, int]:
    # Usually one upsert; more when some rows leave stored fields alone (formats.customers).
    results = [upsert_customers(cursor, frame, update, now) for frame, update in prepared.customers]
    total = bulk.UpsertResult(*(sum(getattr(r, f) for r in results) for f in ("created", "updated", "unchanged")))
    return total, 0


def write_orders(cursor, prepared: Prepared, now, *, touch_since) -> tuple[bulk.UpsertResult, int]:
    """The chunk's customers (new ones created), then its orders. Customers whose orders
    change get updated_at = now unless it is at or after ``touch_since`` already."""
    customers_created = 0
    for frame, update in prepared.customers:
        customers_created += upsert_customers(cursor, frame, update, now).created
    frame = prepared.orders
    result = bulk.upsert_rows(
        cursor, table=ORDERS, key="external_id", rows=frame, now=now,
        merge_json=("attributes",), insert_defaults=_upsert_defaults(Order, frame.columns),
        lookups={"customer_id": bulk.Lookup(table=CUSTOMERS, key="external_id")},
        # Incremental re-segmentation finds changed customers by updated_at. Once per import
        # is enough: a customer with orders in every chunk is not rewritten ten times.
        touch="customer_id",
        touch_since=touch_since,
    )
    return result, customers_created


def upsert_customers(cursor, frame: pd.DataFrame, update, now) -> bulk.UpsertResult:
    """Customers on external_id; ``update`` as in bulk.upsert_rows. Attributes are merged
    into the stored ones, not replaced."""
    return bulk.upsert_rows(cursor, table=CUSTOMERS, key="external_id", rows=frame, now=now, update=update,
                            merge_json=("attributes",), insert_defaults=_upsert_defaults(Customer, frame.columns))


class ChunkWriter:
    """Every chunk in a transaction of its own: a crash keeps the chunks already done."""

    def __init__(self, write: ChunkWrite, *, dry_run: bool):
        self.write_chunk, self.dry_run = write, dry_run

    @contextmanager
    def session(self):
        yield

    def write(self, prepared: Prepared) -> tuple[bulk.UpsertResult, int]:
        with transaction.atomic(), connection.cursor() as cursor:
            result = self.write_chunk(cursor, prepared, timezone.now())
            if self.dry_run:
                transaction.set_rollback(True)
        return result
