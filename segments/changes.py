"""Stamping customers changed, and the watermark of the order stats, made safe to overlap.

A segmentation run re-aggregates the customers stamped (``updated_at``) after the previous
refresh's watermark. Timestamps alone cannot promise that nothing is missed: a writer stamps
before it commits, and a refresh that starts in between does not see the change yet records
a later watermark, so the stamp falls behind it and no later run looks again. The writers
and the refresh therefore take one PostgreSQL advisory lock (transaction-level):

- A writer (an import chunk, the first load, `customers_mark_changed`) takes it SHARED as the
  first thing in its transaction and stamps with the database clock read after it
  (`changes_stamp`). Writers never wait for each other.
- A stats refresh takes it EXCLUSIVE (`changes_watermark`): that waits until the writers in
  flight have committed, and its watermark is the clock right after. It lets go as soon as
  the watermark is recorded, before any aggregate: a barrier, not a lock held for minutes.

A writer that committed before the barrier is seen by the refresh, whose reads all come
after it; a writer that got the lock after the barrier stamps later than the watermark and
is re-aggregated by the next run. The database's clock on both sides: the workers' clocks
may disagree with each other, PostgreSQL's cannot.

On SQLite write transactions are serialised (BEGIN IMMEDIATE, see settings): a stamp read
inside one is the same promise, and the stamp is Python's clock on the one machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone

from segments.models import SegmentationRun

# The advisory lock's key: any constant no other code uses ("SegChang" in ASCII).
CHANGES_LOCK = 0x5365674368616E67


@dataclass(frozen=True)
class Stamp:
    """What a writer stamps customers with, and the latest stats watermark at that moment."""

    now: dt.datetime
    refreshed: dt.datetime | None  # the watermark of the latest stats refresh (None: never refreshed)

    def touch_since(self, started_at: dt.datetime) -> dt.datetime:
        """Customers stamped at or after this need no new stamp: an import stamps a customer
        once, not once per chunk, unless a refresh came after the earlier stamp (it has seen
        the orders up to then, not the ones this chunk adds)."""
        return max(started_at, self.refreshed) if self.refreshed is not None else started_at


def changes_stamp(cursor) -> Stamp:
    """Take the changes lock SHARED for the transaction and return the stamp to write.

    Call it first thing inside the writer's transaction (``transaction.atomic()``): the lock is
    held until the transaction ends, and waits while a refresh takes its watermark.
    """
    _check_in_transaction(cursor)
    if cursor.db.vendor != "postgresql":
        return Stamp(now=timezone.now(), refreshed=_latest_watermark())
    cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [CHANGES_LOCK])
    # Read after the lock, so a refresh that released it just now is seen, with its watermark.
    cursor.execute(
        f"SELECT clock_timestamp(), (SELECT max(stats_watermark) FROM {SegmentationRun._meta.db_table})"
    )
    now, refreshed = cursor.fetchone()
    return Stamp(now=now, refreshed=refreshed)


def changes_watermark(cursor) -> dt.datetime:
    """Take the changes lock EXCLUSIVE for the transaction and return the watermark.

    Waits for the writers in flight to commit. Record the watermark in the same transaction
    (writers read the latest one under the lock) and commit: everything stamped up to it is
    then visible to the statements that follow.
    """
    _check_in_transaction(cursor)
    if cursor.db.vendor != "postgresql":
        return timezone.now()
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHANGES_LOCK])
    cursor.execute("SELECT clock_timestamp()")
    return cursor.fetchone()[0]


def _latest_watermark() -> dt.datetime | None:
    return SegmentationRun.objects.aggregate(latest=Max("stats_watermark"))["latest"]


def _check_in_transaction(cursor) -> None:
    if not cursor.db.in_atomic_block:
        # Outside a transaction the lock would end with the statement, and the stamp with it.
        raise RuntimeError("changes_stamp and changes_watermark must be called inside transaction.atomic()")
