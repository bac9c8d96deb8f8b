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
    other columns go into attributes; a customer id a row repeats is rejected."""

    def __init__(self, plan: ColumnPlan, ctx: Context):
        self.plan, self.ctx = plan, ctx
        self.seen = FirstSeen()

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        problems = Problems(lines)
        cleaned = clean_columns(problems, chunk, self.plan, CUSTOMER_FIELDS, self.ctx)
        require_unique_id(problems, chunk, self.plan, cleaned, self.seen, lines, "customer id")
        if self.plan.extra:
            cleaned["attributes"] = json_objects({c: chunk[c] for c in self.plan.extra})
        frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in cleaned.items()},
                             index=chunk.index)
        frame = frame[~problems.bad]
        return Prepared(rejected=int(problems.bad.sum()), errors=problems.frame(), customers=[(frame, None)])
