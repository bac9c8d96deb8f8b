"""The UCI "Online Retail" shape: one row per invoice line, grouped into one order per invoice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.importing.cleaning import Context, as_text
from segments.importing.fields import MAX_AMOUNT, ONLINE_RETAIL_FIELDS, ColumnPlan
from segments.importing.keys import FirstSeen
from segments.importing.preparing import Cleaned, Prepared, Problems, clean_columns, require


class OnlineRetailRows:
    """Invoice lines grouped into one order per invoice.

    An invoice's lines must be next to each other. The last invoice of a chunk may go on in
    the next chunk, so it is held back and prepended to the next one.
    """

    def __init__(self, plan: ColumnPlan, ctx: Context):
        self.plan, self.ctx = plan, ctx
        self.seen = FirstSeen()
        self.carry: tuple[pd.DataFrame, np.ndarray] | None = None

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        plan = self.plan
        if self.carry is not None:
            chunk = pd.concat([self.carry[0], chunk], ignore_index=True)
            lines = np.concatenate([self.carry[1], lines])
            self.carry = None
        customer_column, invoice_column = plan.fields["customer_id"], plan.fields["external_id"]
        # Lines without a customer (about a quarter of the UCI data set) cannot be
        # attributed to anyone: counted as skipped, not as errors.
        no_customer = (as_text(chunk[customer_column]) == "").to_numpy()
        skipped = int(no_customer.sum())
        chunk, lines = chunk[~no_customer].reset_index(drop=True), lines[~no_customer]

        # Runs of consecutive lines with the same invoice number.
        invoice = as_text(chunk[invoice_column])
        run = np.cumsum((invoice != invoice.shift()).to_numpy())
        if not final and len(chunk):
            last = run == run[-1]
            self.carry = (chunk[last], lines[last])
            chunk, lines = chunk[~last].reset_index(drop=True), lines[~last]
            invoice, run = invoice[~last].reset_index(drop=True), run[~last]

        problems = Problems(lines)
        cleaned = self._check(problems, chunk, lines, invoice, run)

        good = ~problems.bad
        line_total = cleaned["quantity"] * cleaned["unit_price"]
        lines_frame = pd.DataFrame(
            {
                "run": run[good],
                "external_id": invoice[good].to_numpy(dtype=object),
                "customer_id": cleaned["customer_id"][good].to_numpy(dtype=object),
                "ordered_at": cleaned["ordered_at"][good],
                "line_total": line_total[good],
                "quantity": cleaned["quantity"][good],
                "country": (cleaned["country"][good].to_numpy(dtype=object) if "country" in cleaned
                            else np.full(int(good.sum()), "", dtype=object)),
            }
        )
        orders = _orders(lines_frame)
        too_large = orders["amount"].abs() >= MAX_AMOUNT
        if too_large.any():
            heads_of_big = set(orders.loc[too_large, "external_id"])
            mask = good & invoice.isin(heads_of_big).to_numpy()
            problems.add(mask, invoice_column, chunk[invoice_column], "invoice total too large")
            orders = orders[~too_large]
        orders = orders.astype({"external_id": "str", "customer_id": "str"})
        return Prepared(
            skipped=skipped,
            rejected=int(problems.bad.sum()),
            errors=problems.frame(),
            warnings=problems.warnings(),
            orders=orders,
            customers=_customers(lines_frame, orders),
        )

    def _check(self, problems: Problems, chunk: pd.DataFrame, lines: np.ndarray, invoice: pd.Series,
               run: np.ndarray) -> Cleaned:
        """Clean the lines; reject lines that are bad, and every line of an invoice that has
        a bad line or whose lines are not next to each other."""
        plan, invoice_column = self.plan, self.plan.fields["external_id"]
        no_invoice = (invoice == "").to_numpy()
        problems.add(no_invoice, invoice_column, chunk[invoice_column], "missing invoice number")
        cleaned = clean_columns(problems, chunk, plan, ONLINE_RETAIL_FIELDS, self.ctx)
        require(problems, chunk, plan, cleaned, "ordered_at", "invoice date")
        require(problems, chunk, plan, cleaned, "quantity", "quantity")
        require(problems, chunk, plan, cleaned, "unit_price", "unit price")

        # An invoice with a rejected line is rejected whole: importing the other lines
        # would store a wrong total.
        never = np.iinfo(np.int64).max
        first_bad = pd.Series(np.where(problems.bad & ~no_invoice, lines, never)).groupby(run).transform("min")
        sibling = ~problems.bad & (first_bad.to_numpy() < never)
        reason = "another line of this invoice was rejected (line " + first_bad.astype(str) + ")"
        reason = reason.to_numpy(dtype=object)
        problems.add(sibling, invoice_column, chunk[invoice_column], reason)

        # An invoice number that comes back after other invoices: its lines are split up.
        head = ~no_invoice & (lines == pd.Series(lines).groupby(run).transform("min").to_numpy())
        earlier = np.zeros(len(chunk), dtype=np.int64)
        earlier[head] = self.seen.earlier_lines(
            invoice[head].reset_index(drop=True), lines[head], np.ones(int(head.sum()), dtype=bool)
        )
        earlier = pd.Series(earlier).groupby(run).transform("max")
        reason = (
            "invoice appears again after other invoices (first on line " + earlier.astype(str)
            + "); the lines of one invoice must be next to each other"
        ).to_numpy(dtype=object)
        problems.add((earlier.to_numpy() > 0) & ~problems.bad, invoice_column, chunk[invoice_column], reason)
        return cleaned


def _orders(lines_frame: pd.DataFrame) -> pd.DataFrame:
    """One order per run of lines of the same invoice: the first line's invoice number,
    customer and date, the lines' total amount and quantity."""
    grouped = lines_frame.groupby("run", sort=False)
    orders = grouped.agg(
        external_id=("external_id", "first"),
        customer_id=("customer_id", "first"),
        ordered_at=("ordered_at", "first"),
        amount=("line_total", "sum"),
        quantity=("quantity", "sum"),
        lines=("run", "size"),
    ).reset_index(drop=True)
    orders["amount"] = orders["amount"].round(2)
    orders["quantity"] = orders["quantity"].astype(np.int64)
    # Cancellations are invoices numbered C536379, with negative quantities.
    orders["is_return"] = orders["external_id"].astype(str).str.upper().str.startswith("C").to_numpy(dtype=bool)
    orders["attributes"] = '{"lines":' + orders.pop("lines").astype(str) + "}"
    return orders


def _customers(lines_frame: pd.DataFrame, orders: pd.DataFrame) -> list[tuple[pd.DataFrame, tuple[str, ...]]]:
    """The customers to upsert: with the country of their last line that has one (which
    updates a known customer's country), and the others, created if new."""
    with_country = lines_frame[lines_frame["country"] != ""]
    countries = with_country.drop_duplicates("customer_id", keep="last")[["customer_id", "country"]]
    countries = countries.rename(columns={"customer_id": "external_id"}).astype("str")
    others = pd.DataFrame({"external_id": orders["customer_id"].unique()})
    others = others[~others["external_id"].isin(countries["external_id"])]
    return [(countries, ("country",)), (others, ())]
