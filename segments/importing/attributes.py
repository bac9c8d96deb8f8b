"""A file's extra columns (those that are not fields) as one JSON object per row, built
column-wise: Customer.attributes and Order.attributes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segments.importing.cleaning import as_text, float_text
from segments.importing.preparing import Problems

# Characters kept of one value. Longer ones are cut, with a warning, rather than the row
# rejected: the row's other data is good, and a long note's start is the part people read.
MAX_ATTRIBUTE_LENGTH = 1_000

# A float keeps 15 significant digits exactly: a longer number (an EAN, a loyalty card
# number, an id) would be rounded, so it stays text.
_EXACT_DIGITS = 15
_JSON_INTEGER = rf"-?(?:0|[1-9]\d{{0,{_EXACT_DIGITS - 1}}})"
_JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"


def _json_values(raw: pd.Series, name: str, problems: Problems) -> pd.Series:
    """JSON text per cell, "" for an empty cell. Numbers stay numbers (int when whole),
    except spellings a number would not keep: the leading zero of a zip code, the digits
    of a number longer than a float holds."""
    dtype = raw.dtype
    if pd.api.types.is_bool_dtype(dtype) and not raw.hasnans:
        return pd.Series(np.where(raw.to_numpy(dtype=bool), "true", "false"), index=raw.index, dtype="str")
    if pd.api.types.is_integer_dtype(dtype) and not raw.hasnans:
        text = raw.astype("str")
        return text.where(raw.abs().to_numpy() < 10**_EXACT_DIGITS, '"' + text + '"')
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(float_text(raw.to_numpy(dtype=float, na_value=np.nan)), index=raw.index, dtype="str")
    text = _capped(as_text(raw), name, problems)
    out = _json_strings(text)
    integer = text.str.fullmatch(_JSON_INTEGER).to_numpy(dtype=bool)
    out = out.where(~integer, text)
    number = text.str.fullmatch(_JSON_NUMBER).to_numpy(dtype=bool) & ~integer
    if number.any():
        values = pd.to_numeric(text[number]).to_numpy(dtype=float)
        exact = (_significant_digits(text[number]) <= _EXACT_DIGITS) & np.isfinite(values)
        number[number] = exact
        out[number] = float_text(values[exact])
    return out.where(text != "", "")


def _significant_digits(numbers: pd.Series) -> np.ndarray:
    """Digits of the mantissa without the leading zeros: "0.0012500" has 5, "1.2e5" 2."""
    digits = numbers.str.replace(r"[eE].*$", "", regex=True).str.replace(r"\D", "", regex=True)
    return digits.str.lstrip("0").str.len().to_numpy()


def _capped(text: pd.Series, name: str, problems: Problems) -> pd.Series:
    lengths = pc.utf8_length(pa.array(text))
    if (pc.max(lengths).as_py() or 0) <= MAX_ATTRIBUTE_LENGTH:
        return text
    long = pc.greater(lengths, MAX_ATTRIBUTE_LENGTH).to_numpy(zero_copy_only=False)
    problems.warn(long, name, text, f"longer than {MAX_ATTRIBUTE_LENGTH:,} characters: the first "
                                    f"{MAX_ATTRIBUTE_LENGTH:,} are kept")
    return text.where(~long, text.str.slice(0, MAX_ATTRIBUTE_LENGTH))


def _json_strings(text: pd.Series) -> pd.Series:
    escaped = text
    if text.str.contains(r'["\\\x00-\x1f]', regex=True).any():
        escaped = text.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
        escaped = escaped.str.replace(r"[\x00-\x1f]", lambda m: f"\\u{ord(m.group()):04x}", regex=True)
    return '"' + escaped + '"'


def json_objects(columns: dict[str, pd.Series], problems: Problems) -> pd.Series:
    """One JSON object a row, of the columns' non-empty cells; values cut to
    MAX_ATTRIBUTE_LENGTH are warnings in ``problems``."""
    body = None
    for name, raw in columns.items():
        value = _json_values(raw, name, problems)
        piece = ("," + json.dumps(name) + ":" + value).where(value != "", "")
        body = piece if body is None else body + piece
    return "{" + body.str[1:] + "}"
