"""What every row preparer (formats/) shares: run the cleaners over the planned columns,
collect rejected rows (and warnings: optional fields left empty) with their line, column,
value and reason, and hand the writer a Prepared chunk."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segments.importing.cleaning import CLEANERS, Context, as_text, has_byte
from segments.importing.fields import ColumnPlan
from segments.importing.keys import FirstSeen


class Problems:
    """Rejected rows of one chunk, with a line, column, value and reason each; and warnings,
    the same for a field left empty in a row that is kept."""

    def __init__(self, lines: np.ndarray):
        self.lines = lines
        self.bad = np.zeros(len(lines), dtype=bool)
        self._parts: list[pd.DataFrame] = []
        self._warnings: list[pd.DataFrame] = []

    def add(self, mask, column: str, raw: pd.Series, reason) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        self._parts.append(self._rows(mask, column, raw, reason))

    def warn(self, mask, column: str, raw: pd.Series, reason) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self._warnings.append(self._rows(mask, column, raw, reason).assign(at=np.flatnonzero(mask)))

    def _rows(self, mask: np.ndarray, column: str, raw: pd.Series, reason) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "line": self.lines[mask],
                "column": column,
                "value": as_text(raw[mask]).to_numpy(dtype=object),
                "reason": reason if isinstance(reason, str) else np.asarray(reason, dtype=object)[mask],
            }
        )

    def frame(self) -> pd.DataFrame:
        return _by_line(self._parts)

    def warnings(self) -> pd.DataFrame:
        """The warnings of the rows that are kept: a rejected row's are beside the point."""
        kept = [part[~self.bad[part.pop("at").to_numpy()]] for part in self._warnings]
        return _by_line(kept)


def _by_line(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"line": [], "column": [], "value": [], "reason": []})
    return pd.concat(parts, ignore_index=True).sort_values("line", kind="stable")


def _earlier_reason(what: str, earlier: np.ndarray) -> np.ndarray | str:
    if not (earlier > 0).any():
        return ""  # nothing to report: skip building a million strings
    return np.char.add(f"duplicate {what}: already on line ", earlier.astype(str)).astype(object)


@dataclass
class Prepared:
    """One chunk, prepared: the rows to write, and what was rejected or skipped."""

    rows: int = 0  # non-blank file rows read for this chunk
    skipped: int = 0
    rejected: int = 0
    errors: pd.DataFrame | None = None
    warnings: pd.DataFrame | None = None  # fields left empty in rows that are written
    # (rows, columns to update on conflict: None = all, () = insert only)
    customers: list[tuple[pd.DataFrame, tuple[str, ...] | None]] = field(default_factory=list)
    orders: pd.DataFrame | None = None
    seconds: float = 0.0


class RowPreparer(Protocol):
    """A file shape's preparer (see formats/): made once per import, given the chunks in order."""

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> Prepared:
        """The chunk's rows to write and its rejected rows. ``lines`` are the rows' line
        numbers in the file; ``final`` is True for the last chunk (a preparer may hold rows
        back for the next chunk until then)."""


class Cleaned(dict):
    """Clean values per field; ``bad[field]`` marks the rows that field rejected,
    ``warned[field]`` those where an optional field was invalid and is left empty."""

    def __init__(self):
        super().__init__()
        self.bad: dict[str, np.ndarray] = {}
        self.warned: dict[str, np.ndarray] = {}  # optional fields left empty: rows with a warning


def clean_columns(problems: Problems, chunk: pd.DataFrame, plan: ColumnPlan, fields, ctx: Context,
                  optional: Collection[str] | None = None) -> Cleaned:
    """Every planned field through its cleaner; invalid cells are added to ``problems``, and
    so are rows with a NUL character in any cell (reject_nul).

    An invalid cell of an ``optional`` field (default: the fields whose spec says so) does
    not reject its row: the field is left empty, with a warning, and ``cleaned.warned``
    marks those rows.
    """
    if optional is None:
        optional = {name for name, spec in fields.items() if spec.optional}
    reject_nul(problems, chunk)
    cleaned = Cleaned()
    for name, column in plan.fields.items():
        spec = fields[name]
        values, bad, reason = CLEANERS[spec.kind](chunk[column], spec, ctx, column)
        bad = np.asarray(bad, dtype=bool)
        if name in optional:
            problems.warn(bad, column, chunk[column], reason)
            if bad.any():
                values = _blank(values, bad)
                cleaned.warned[name] = bad
            bad = np.zeros(len(bad), dtype=bool)
        else:
            problems.add(bad, column, chunk[column], reason)
        cleaned[name], cleaned.bad[name] = values, bad
    return cleaned


def _blank(values, mask: np.ndarray):
    """The values with the masked ones empty, as an empty cell reads: "", NaN, NaT or False."""
    if isinstance(values, pd.Series):
        empty = "" if isinstance(values.dtype, pd.StringDtype) else None
        return values.mask(pd.Series(mask, index=values.index), empty)
    values = np.array(values, copy=True)
    values[mask] = False if values.dtype == bool else np.nan
    return values


def reject_nul(problems: Problems, chunk: pd.DataFrame) -> None:
    """Reject rows with a NUL character in any cell, attributes included.

    PostgreSQL can store no NUL in text or JSON: one would fail the chunk's COPY (and a first
    load, all of it). Rejected rather than stripped: a text file has no NUL unless the line
    is damaged (or the file is not text in this encoding), so its other cells cannot be
    trusted, and an id without its NUL could be another customer's. A look for a zero byte
    in each text column's buffer; nothing more unless one is there.
    """
    for column in chunk.columns:
        values = chunk[column]
        if not isinstance(values.dtype, pd.StringDtype):
            continue
        array = pa.array(values)
        if not has_byte(array, 0):  # in UTF-8, only NUL is a zero byte
            continue
        found = pc.match_substring(array, "\x00").fill_null(False)
        if not pc.any(found).as_py():
            continue
        problems.add(found.to_numpy(zero_copy_only=False), column, values,
                     "contains a NUL character (\\x00), which text never has: the line may be damaged")


def require(problems, chunk, plan, cleaned: Cleaned, name, what):
    """Reject rows whose required field is empty (and not already rejected as invalid)."""
    values = cleaned[name]
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        empty = (values == "").to_numpy(dtype=bool)
    else:
        empty = np.asarray(pd.isna(values), dtype=bool)
    empty = empty & ~cleaned.bad[name]
    column = plan.fields[name]
    problems.add(empty, column, chunk[column], f"missing {what}")
    return empty


def require_unique_id(problems, chunk, plan, cleaned: Cleaned, seen: FirstSeen, lines: np.ndarray, what: str):
    """Reject rows without an external_id, and rows whose external_id an earlier line has."""
    missing = require(problems, chunk, plan, cleaned, "external_id", what)
    earlier = seen.earlier_lines(cleaned["external_id"], lines, ~missing)
    column = plan.fields["external_id"]
    problems.add(earlier > 0, column, chunk[column], _earlier_reason(what, earlier))
