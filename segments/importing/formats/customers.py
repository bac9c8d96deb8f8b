"""A customers file: one customer a row, upserted on external_id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.importing.attributes import json_objects
from segments.importing.cleaning import Context
from segments.importing.fields import CUSTOMER_FIELDS, ColumnPlan
from segments.importing.keys import FirstSeen
from segments.importing.preparing import Prepared, Problems, clean_columns, earlier_reason, require


class CustomerRows:
    """Customers, upserted on external_id: only the columns the file has are written, the
    other columns go into attributes; a customer id a row repeats is rejected."""

    def __init__(self, plan: ColumnPlan, ctx: Context):
        self.plan, self.ctx = plan, ctx
        self.seen = FirstSeen()

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        problems = Problems(lines)
        cleaned = clean_columns(problems, chunk, self.plan, CUSTOMER_FIELDS, self.ctx)
        missing = require(problems, chunk, self.plan, cleaned, "external_id", "customer id")
        key_column = self.plan.fields["external_id"]
        earlier = self.seen.earlier_lines(cleaned["external_id"], lines, ~missing)
        problems.add(earlier > 0, key_column, chunk[key_column], earlier_reason("customer id", earlier))
        if self.plan.extra:
            cleaned["attributes"] = json_objects({c: chunk[c] for c in self.plan.extra})
        frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in cleaned.items()},
                             index=chunk.index)
        frame = frame[~problems.bad]
        return Prepared(rejected=int(problems.bad.sum()), errors=problems.frame(), customers=[(frame, None)])
