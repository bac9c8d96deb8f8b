"""The segment a draft run gave each customer, kept until it goes live (segments.models.DraftLabel).

A draft's result is its profiles (on the run) plus one small row per customer: (run, customer,
label). Making the draft live reads the rows back and writes membership from them, so nothing is
fitted again and what goes live is exactly what was looked at. Written with COPY in one go,
read back in one query; a million customers are about 15 MB of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db import connection

from segcampaign.bulk import copy_rows
from segments import frames
from segments.models import DraftLabel, SegmentationRun

TABLE = DraftLabel._meta.db_table


def draft_labels_save(run: SegmentationRun, labels: pd.Series) -> None:
    """Keep `labels` (customer id -> the label in run.profiles) for the draft `run`."""
    rows = pd.DataFrame(
        {"customer_id": labels.index.to_numpy(dtype=np.int64), "label": labels.to_numpy(dtype=np.int16)}
    )
    rows["run_id"] = run.pk
    with connection.cursor() as cursor:
        copy_rows(cursor, TABLE, ["run_id", "customer_id", "label"], rows)


def draft_labels(run: SegmentationRun) -> pd.Series:
    """customer id -> label of the draft `run`, for the customers that still exist."""
    frame = frames.read_frame(
        f"SELECT d.customer_id, d.label FROM {TABLE} d JOIN {frames.CUSTOMER_TABLE} c ON c.id = d.customer_id "
        "WHERE d.run_id = %s",
        [run.pk],
        columns=["customer_id", "label"],
    )
    return pd.Series(
        frame["label"].to_numpy(dtype=np.int64), index=frame["customer_id"].to_numpy(dtype=np.int64), name="label"
    )


def draft_labels_kept(run: SegmentationRun) -> bool:
    return DraftLabel.objects.filter(run_id=run.pk).exists()


def draft_labels_drop() -> None:
    """Forget the labels of every draft: once a run goes live, the others are out of date."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
