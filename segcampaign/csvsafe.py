"""CSV files that a spreadsheet opens as data: text that starts like a formula is shown as text.

Excel, LibreOffice and Google Sheets run a cell that starts with =, +, -, @, a tab or a carriage
return as a formula, so a customer named =HYPERLINK(...) in an export becomes a link that leaks
data or runs a command (Mautic's CVE-2018-8092). OWASP's advice is to put a single quote in front
of such text; the spreadsheet shows the text and hides the quote. Only text is touched: numbers in
numeric columns are numbers (-12.5 is a refund, not a formula) and stay as they are, as do
booleans and dates. Every CSV the project writes goes through `write_csv`.

A carriage return inside text is written as a line feed. The CSV writer quotes a cell with a line
feed, but not one with a bare carriage return, which a spreadsheet takes for the end of the row:
"x\r=cmd" would put =cmd at the start of a cell of its own, past the quote.

Django-free: pandas only.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell that starts like a formula prefixed by a single quote, and
    carriage returns inside text written as line feeds.

    Numeric, boolean and date columns are left alone, and so are numbers in a column of mixed
    values; the column names (the header) are the caller's. Returns the frame itself when
    nothing needs quoting, else a copy.
    """
    quoted = {}
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)):
            continue
        try:
            risky = column.str.startswith(FORMULA_STARTS, na=False)
            returns = column.str.contains("\r", regex=False, na=False)
        except AttributeError:
            # An object column with no text in it (numbers, None): nothing a spreadsheet runs.
            continue
        if risky.any() or returns.any():
            text = column.astype(str).str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
            quoted[position] = column.mask(risky | returns, text.mask(risky, QUOTE + text))
    if not quoted:
        return frame
    out = frame.copy()
    for position, column in quoted.items():
        out.isetitem(position, column)
    return out


def write_csv(frame: pd.DataFrame, path_or_buffer, **options) -> None:
    """`frame.to_csv(path_or_buffer, index=False, **options)`, its text neutralised first."""
    neutralise(frame).to_csv(path_or_buffer, **{"index": False, **options})
