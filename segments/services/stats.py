"""CustomerStats: the per-customer order aggregate, kept up to date between runs.

Re-aggregating ten million orders on every run is the expensive part of segmentation; a run
re-aggregates only the customers changed since the stats were last refreshed (the watermark),
and a full rebuild happens on the first run or when asked (`--rebuild-stats`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from segcampaign.bulk import copy_rows
from segments import frames, selectors
from segments.changes import changes_watermark
from segments.models import CustomerStats, SegmentationRun


def customer_stats_refresh(*, since: dt.datetime | None) -> tuple[int, pd.DataFrame | None]:
    """Re-aggregate orders into CustomerStats for customers changed since `since` (all if None).

    Returns the number of customers re-aggregated and, for a full rebuild, the stats frame
    itself so the caller need not read it back. The database does the grouping over millions
    of orders and only one row per customer travels. A full rebuild reads the aggregate out
    and COPYs it back in: on ten million orders that is as fast as INSERT ... SELECT or
    CREATE TABLE AS (about 16 s here), and the run gets the frame without reading it again.

    Imports may commit while this runs (the changes lock is not held here, see
    segments.changes): a customer stamped between the DELETE and the INSERT is re-aggregated
    by the INSERT over the row it still has, hence the upsert.
    """
    table, customers = frames.STATS_TABLE, frames.CUSTOMER_TABLE
    columns = "customer_id, first_order_at, last_order_at, frequency, returns, monetary, quantity, refreshed_at"
    now = timezone.now()
    if since is None:
        stats = frames.order_stats_frame(from_orders=True)
        rows = stats.reset_index()
        rows["refreshed_at"] = now
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
            copy_rows(cursor, table, list(rows.columns), rows)
        return len(rows), stats
    since = frames.db_datetime(since)
    changed = f"customer_id IN (SELECT id FROM {customers} WHERE updated_at > %s)"
    refreshed = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {changed}", [since])
        sql, params = frames.aggregate_sql(customer_filter=changed, filter_params=[since])
        # WHERE true: SQLite's parser needs it between an INSERT's SELECT and ON CONFLICT.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT agg.*, %s FROM ({sql}) AS agg WHERE true "
            f"ON CONFLICT (customer_id) DO UPDATE SET {refreshed}",
            [frames.db_datetime(now), *params],
        )
        return cursor.rowcount, None


def stats_watermark(run: SegmentationRun) -> dt.datetime | None:
    """Customers changed after this instant need their stats re-aggregated (None: all of them)."""
    if run.params.get("rebuild_stats") or not CustomerStats.objects.exists():
        return None
    return selectors.latest_stats_watermark(exclude=run.pk)


def stats_refresh_for_run(run: SegmentationRun) -> pd.DataFrame | None:
    """Bring CustomerStats up to date for `run`; returns the whole stats frame when it rebuilt it all.

    First the watermark, behind the changes lock (segments.changes): every change stamped up
    to it has committed, so the refresh that follows sees it; anything stamped later is
    re-aggregated by the next run. The watermark goes on the run row in that same transaction:
    an import stamps again a customer it already stamped before it (Stamp.touch_since).
    The run records how many customers it re-aggregated.
    """
    since = stats_watermark(run)
    with transaction.atomic(), connection.cursor() as cursor:
        watermark = changes_watermark(cursor)
        SegmentationRun.objects.filter(pk=run.pk).update(stats_watermark=watermark)
    refreshed, stats = customer_stats_refresh(since=since)
    run.stats_refreshed, run.stats_watermark = refreshed, watermark
    return stats
