"""What an import did (ImportReport, with its rejected rows) and the error for a file that
cannot be imported at all (ImportFileError)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

MAX_ERRORS_KEPT = 10_000  # a report lists this many rejected rows; the rest are only counted
_VALUE_SHOWN = 200  # characters of a rejected value kept in the report


@dataclass
class RowError:
    line: int  # line in the file; the header is line 1
    column: str  # the file's column name; "" when it is about the whole line
    value: str
    reason: str

    def __str__(self) -> str:
        where = f'line {self.line}, column "{self.column}"' if self.column else f"line {self.line}"
        return f'{where}: {self.reason} (value: "{self.value}")'


@dataclass
class ImportReport:
    """What an import did. For online-retail files, rows/rejected/skipped count invoice lines
    while created/updated/unchanged count orders (one per invoice)."""

    kind: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    dry_run: bool = False
    customers_created: int = 0  # by an orders import, for customer ids the database did not know
    first_load: bool = False  # orders loaded into an empty table, its indexes built once at the end
    errors_omitted: int = 0  # rejected-row details beyond MAX_ERRORS_KEPT
    # Rows imported with a field left empty (its value was invalid, and the field is
    # optional), and lines read in doubt (not UTF-8 in a UTF-8 file); at most
    # MAX_ERRORS_KEPT listed, the rest counted.
    warnings: list[RowError] = field(default_factory=list)
    warnings_omitted: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self, *, max_errors: int = 20) -> list[str]:
        """The report as a person reads it: counts, then at most ``max_errors`` rejected rows."""
        what = "customers" if self.kind == "customers" else "orders"
        lines = [
            f"{self.rows:,} rows read ({self.encoding or 'typed data'}): {self.created:,} {what} created, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, {self.rejected:,} rows rejected, "
            f"{self.skipped:,} skipped"
        ]
        if self.customers_created:
            lines.append(f"{self.customers_created:,} customers created for orders of customer ids not seen before")
        if self.skipped:
            lines.append(f"{self.skipped:,} lines had no customer id and were skipped")
        if self.errors:
            lines.append("Rejected rows:")
            lines.extend(f"  {error}" for error in self.errors[:max_errors])
            more = len(self.errors) - max_errors + self.errors_omitted
            if more > 0:
                lines.append(f"  ... and {more:,} more")
        if self.warnings:
            lines.append("Warnings (rows imported; an invalid optional field was left empty):")
            lines.extend(f"  {warning}" for warning in self.warnings[:max_errors])
            more = len(self.warnings) - max_errors + self.warnings_omitted
            if more > 0:
                lines.append(f"  ... and {more:,} more")
        if self.first_load:
            lines.append("First load into the empty order table: one transaction, indexes built once at the end.")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return lines

    def add_errors(self, errors: pd.DataFrame) -> None:
        self.errors_omitted += _keep(self.errors, errors)

    def add_warnings(self, warnings: pd.DataFrame | None) -> None:
        if warnings is not None:
            self.warnings_omitted += _keep(self.warnings, warnings)


def _keep(kept: list[RowError], rows: pd.DataFrame) -> int:
    """Append rows (line, column, value, reason) to ``kept`` up to MAX_ERRORS_KEPT; returns
    how many did not fit."""
    room = MAX_ERRORS_KEPT - len(kept)
    taken = rows.iloc[: max(room, 0)]
    # A NUL is shown as \x00: a report is stored as JSON, which PostgreSQL keeps without NULs.
    kept.extend(
        RowError(int(line), str(column), str(value)[:_VALUE_SHOWN].replace("\x00", "\\x00"), str(reason))
        for line, column, value, reason in taken.itertuples(index=False)
    )
    return len(rows) - len(taken)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported: unreadable, a missing column, a bad mapping.

    ``report`` holds what was imported before the problem showed up (chunks already
    committed stay committed), or None when nothing was read.
    """

    def __init__(self, message: str, report: ImportReport | None = None):
        super().__init__(message)
        self.report = report
