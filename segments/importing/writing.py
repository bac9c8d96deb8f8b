"""Writing prepared chunks: upserts through segcampaign.bulk (COPY into a temporary table,
then one INSERT ... ON CONFLICT), one transaction per chunk, so a crash keeps the chunks
already done and a re-run is idempotent."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone

from segcampaign import bulk
from segments.changes import Stamp, changes_stamp
from segments.importing.preparing import Prepared
from segments.models import Customer, Order

logger = logging.getLogger(__name__)


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

# A chunk the database aborts for one of these (deadlock_detected, serialization_failure) is
# written again, at most this many times in all.
RETRIED = {"40P01", "40001"}
CHUNK_ATTEMPTS = 3

# Writes one prepared chunk with the cursor, stamping what changes with the Stamp taken at
# the start of its transaction: (orders or customers upserted, customers created for orders).
ChunkWrite = Callable[[Any, Prepared, Stamp], tuple[bulk.UpsertResult, int]]


def write_customers(cursor, prepared: Prepared, stamp: Stamp) -> tuple[bulk.UpsertResult, int]:
    # Usually one upsert; more when some rows leave stored fields alone (formats.customers).
    results = [upsert_customers(cursor, frame, update, stamp.now) for frame, update in prepared.customers]
    total = bulk.UpsertResult(*(sum(getattr(r, f) for r in results) for f in ("created", "updated", "unchanged")))
    return total, 0


def write_orders(cursor, prepared: Prepared, stamp: Stamp, *, started_at: datetime) -> tuple[bulk.UpsertResult, int]:
    """The chunk's customers (new ones created), then its orders. Customers whose orders
    change get updated_at = stamp.now, once per import started at ``started_at``
    (Stamp.touch_since)."""
    now = stamp.now
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
        touch_since=stamp.touch_since(started_at),
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
        """Write one chunk in a transaction of its own; written again when the database aborts
        it for a deadlock or a serialization failure (another import locked the same customers
        in another order), up to CHUNK_ATTEMPTS times. Nothing of an aborted attempt stays."""
        attempt = 1
        while True:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    result = self.write_chunk(cursor, prepared, self.stamp(cursor))
                    if self.dry_run:
                        transaction.set_rollback(True)
                return result
            except OperationalError as exc:
                if attempt >= CHUNK_ATTEMPTS or getattr(exc.__cause__, "sqlstate", None) not in RETRIED:
                    raise
                attempt += 1
                logger.warning("import chunk aborted by the database (%s), writing it again: attempt %d of %d",
                               exc.__cause__.sqlstate, attempt, CHUNK_ATTEMPTS)
                # The other transaction gets to finish first, whichever of the two it was.
                time.sleep(random.uniform(0.05, 0.25) * attempt)

    def stamp(self, cursor) -> Stamp:
        """The first thing in a chunk's transaction. A dry run commits nothing, so it takes no
        lock (a segmentation run never waits for it)."""
        return Stamp(now=timezone.now(), refreshed=None) if self.dry_run else changes_stamp(cursor)
