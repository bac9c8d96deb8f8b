"""Membership: which segment each customer is in, written for movers only, history kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection

from segcampaign.bulk import copy_rows
from segments import clustering, frames
from segments.models import Segment, SegmentationRun

_IDS_PER_STATEMENT = 50_000
# Rows written (new and ended) from which the table's planner statistics are refreshed at once.
# A full run rewrites most of the table, and until autovacuum gets to it (minutes on a busy
# server) the planner believed a segment of 326,178 members had 32 and sorted them all on disk
# for each page of the admin's member list (1.9 s).
ANALYZE_FROM_ROWS = 10_000


@dataclass(frozen=True)
class MembershipChanges:
    """What writing an assignment would change: who moves where, and who leaves every segment."""

    movers: pd.Series  # customer id -> new segment id, for customers whose segment changes
    ending: pd.Index  # customers whose current membership ends
    transitions: dict  # {from segment key: {to segment key: customers}}
    sizes: dict[int, int]  # customers per segment id afterwards

    @property
    def moved(self) -> int:
        return int(len(self.movers))


def membership_changes(
    *, assignment: pd.Series, partial: bool, new_keys: Mapping[int, str] | None = None
) -> MembershipChanges:
    """What membership_write would do with `assignment` (customer id -> segment id), writing
    nothing: a draft run shows who would move. new_keys: the keys of segments that do not exist
    yet, by the stand-in ids the assignment gives them."""
    ids = assignment.index.to_numpy(dtype=np.int64) if partial else None
    current = frames.current_membership(customer_ids=ids)["segment_id"]
    old = current.reindex(assignment.index)
    changed = old.to_numpy(dtype="float64", na_value=np.nan) != assignment.to_numpy(dtype="float64")
    movers = assignment[changed]
    ending = movers.index[old[changed].notna().to_numpy()]
    if not partial:
        ending = ending.union(current.index.difference(assignment.index))

    keys = {**dict(Segment.objects.values_list("pk", "key")), **(new_keys or {})}
    old_keys = old.map(keys).to_numpy(dtype=object)
    new_keys = assignment.map(keys).to_numpy(dtype=object)
    transitions = clustering.transitions(old_keys, new_keys)
    if partial:
        # Everyone else stays: today's sizes, less who leaves, plus who arrives.
        sizes = pd.Series(current_segment_sizes(), dtype="int64")
        sizes = sizes.sub(old.dropna().astype("int64").value_counts(), fill_value=0)
        sizes = sizes.add(assignment.value_counts(), fill_value=0)
    else:
        sizes = assignment.value_counts()
    return MembershipChanges(
        movers=movers, ending=ending, transitions=transitions,
        sizes={int(pk): int(n) for pk, n in sizes.items()},
    )


def membership_write(*, run: SegmentationRun, assignment: pd.Series, partial: bool) -> tuple[int, dict]:
    """Record the new segment of each customer in `assignment` (customer id -> segment id).

    Only customers whose segment changed get rows: their current membership is ended by this
    run and a new one starts. A full run (partial=False) also ends memberships of customers
    that are no longer assigned. Returns (customers moved, transitions between segment keys).
    """
    changes = membership_changes(assignment=assignment, partial=partial)
    movers = changes.movers
    table = frames.MEMBERSHIP_TABLE
    with connection.cursor() as cursor:
        ending_ids = changes.ending.to_numpy(dtype=np.int64)
        for start in range(0, len(ending_ids), _IDS_PER_STATEMENT):
            cursor.execute(
                f"UPDATE {table} SET ended_run_id = %s WHERE ended_run_id IS NULL AND customer_id IN "
                f"({frames.id_list(ending_ids[start:start + _IDS_PER_STATEMENT])})",
                [run.pk],
            )
        rows = pd.DataFrame(
            {"customer_id": movers.index.to_numpy(dtype=np.int64), "segment_id": movers.to_numpy(dtype=np.int64)}
        )
        rows["run_id"] = run.pk
        copy_rows(cursor, table, ["customer_id", "segment_id", "run_id"], rows)
        if connection.vendor == "postgresql" and len(rows) + len(ending_ids) >= ANALYZE_FROM_ROWS:
            cursor.execute(f"ANALYZE {table}")
    return changes.moved, changes.transitions


def current_segment_sizes() -> dict[int, int]:
    """Customers per segment id in the current membership."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT segment_id, COUNT(*) FROM {frames.MEMBERSHIP_TABLE} WHERE ended_run_id IS NULL "
            "GROUP BY segment_id"
        )
        return dict(cursor.fetchall())
