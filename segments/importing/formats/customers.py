"""A customers file: one customer a row, upserted on external_id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.importing.attributes import json_objects
from segments.importing.cleaning import Context
from segments.importing.fields import CUSTOMER_FIELDS, ColumnPlan
from segments.importing.keys import FirstSeen
from segments.importing.preparing import Prepared, Problems, clean_columns, require_unique_id


class CustomerRows:
    """Customers, upserted on external_id: only the columns the file has are written, the
    other columns go into attributes; a customer id a row repeats is rejected. Every field
    but the id is optional: an invalid value is left empty, with a warning."""

    def __init__(self, plan: ColumnPlan, ctx: Context):
        self.plan, self.ctx = plan, ctx
        self.seen = FirstSeen()

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        problems = Problems(lines)
        cleaned = clean_columns(problems, chunk, self.plan, CUSTOMER_FIELDS, self.ctx)
        require_unique_id(problems, chunk, self.plan, cleaned, self.seen, lines, "customer id")
        if self.plan.extra:
            cleaned["attributes"] = json_objects({c: chunk[c] for c in self.plan.extra}, problems)
        frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in cleaned.items()},
                             index=chunk.index)
        good = ~problems.bad
        return Prepared(rejected=int(problems.bad.sum()), errors=problems.frame(), warnings=problems.warnings(),
                        customers=_keeping_stored(frame[good], {k: v[good] for k, v in cleaned.warned.items()}))


def _keeping_stored(frame: pd.DataFrame, warned: dict[str, np.ndarray]) -> list[tuple[pd.DataFrame, tuple | None]]:
    """The customers to upsert, as (rows, columns to update): a field left empty because its
    value was invalid is written for a new customer, but not over a stored one's value. Rows
    are grouped by which fields they leave alone: one upsert a group, usually one in all."""
    if not warned:
        return [(frame, None)]
    names = list(warned)
    flags = pd.DataFrame(warned, index=frame.index)
    groups = []
    for left, rows in frame.groupby([flags[name] for name in names], sort=False):
        kept = tuple(c for c in frame.columns if c != "external_id" and c not in
                     {name for name, flag in zip(names, left) if flag})
        groups.append((rows, None if len(kept) == len(frame.columns) - 1 else kept))
    return groups
