"""An orders file in the default shape: one order a row, its customer by external id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.importing.attributes import json_objects
from segments.importing.cleaning import Context
from segments.importing.fields import MAX_AMOUNT, ORDER_FIELDS, ColumnPlan
from segments.importing.keys import FirstSeen, Occurrences, row_ids
from segments.importing.preparing import Prepared, Problems, clean_columns, require, require_unique_id


class OrderRows:
    """Orders and the customers they name (created when new, otherwise left alone). The
    amount is quantity times unit price when the file has no amount; a file without
    order ids gets ids derived from each row's content (keys.row_ids)."""

    def __init__(self, plan: ColumnPlan, ctx: Context):
        self.plan, self.ctx = plan, ctx
        self.seen = FirstSeen()
        self.occurrences = Occurrences()
        # With an amount column, quantity and unit price only describe the order: an invalid
        # one is left empty (a warning). Without, they make the amount and must be valid.
        self.optional = {name for name, spec in ORDER_FIELDS.items() if spec.optional}
        if "amount" in plan.fields:
            self.optional |= {"quantity", "unit_price"}

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        plan, problems = self.plan, Problems(lines)
        cleaned = clean_columns(problems, chunk, plan, ORDER_FIELDS, self.ctx, optional=self.optional)
        require(problems, chunk, plan, cleaned, "customer_id", "customer id")
        require(problems, chunk, plan, cleaned, "ordered_at", "order date")
        if "external_id" in plan.fields:
            ids = cleaned["external_id"]
            require_unique_id(problems, chunk, plan, cleaned, self.seen, lines, "order id")
        else:
            ids = row_ids(chunk, self.occurrences)

        n = len(chunk)
        amount = cleaned.get("amount", np.full(n, np.nan))
        quantity = cleaned.get("quantity")
        if quantity is not None and "unit_price" in cleaned:
            # Rounded like the shop's till would: per order, to the cent.
            amount = np.where(np.isnan(amount), np.round(quantity * cleaned["unit_price"], 2), amount)
        amount_column = plan.fields.get("amount") or plan.fields.get("unit_price")
        unknown = np.isnan(amount) & ~problems.bad
        problems.add(unknown, amount_column, chunk[amount_column], "missing amount")
        too_large = np.abs(np.nan_to_num(amount)) >= MAX_AMOUNT
        problems.add(too_large & ~problems.bad, amount_column, chunk[amount_column], "amount too large")

        orders = {
            "external_id": ids,
            "customer_id": cleaned["customer_id"],
            "ordered_at": cleaned["ordered_at"],
            "amount": amount,
            # A file without a return flag still marks refunds: they are the negative amounts.
            "is_return": cleaned["is_return"] if "is_return" in cleaned else np.nan_to_num(amount) < 0,
        }
        if quantity is not None:
            orders["quantity"] = np.nan_to_num(quantity).astype(np.int64)
        if "coupon_code" in cleaned:
            orders["coupon_code"] = cleaned["coupon_code"]
        if plan.extra:
            orders["attributes"] = json_objects({c: chunk[c] for c in plan.extra}, problems)
        frame = pd.DataFrame(orders, index=chunk.index)[~problems.bad]
        customers = pd.DataFrame({"external_id": frame["customer_id"].unique()})
        return Prepared(rejected=int(problems.bad.sum()), errors=problems.frame(), warnings=problems.warnings(),
                        orders=frame, customers=[(customers, ())])
