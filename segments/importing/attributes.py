"""A file's extra columns (those that are not fields) as one JSON object per row, built
column-wise: Customer.attributes and Order.attributes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from segments.importing.cleaning import as_text, float_text


_JSON_INTEGER = r"-?(?:0|[1-9]\d{0,15})"
_JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"


def _json_values(raw: pd.Series) -> pd.Series:
    """JSON text per cell, "" for an empty cell. Numbers stay numbers (int when whole),
    except spellings a number would not keep, like the leading zero of a zip code."""
    dtype = raw.dtype
    if pd.api.types.is_bool_dtype(dtype) and not raw.hasnans:
        return pd.Series(np.where(raw.to_numpy(dtype=bool), "true", "false"), index=raw.index, dtype="str")
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(float_text(raw.to_numpy(dtype=float, na_value=np.nan)), index=raw.index, dtype="str")
    text = as_text(raw)
    out = _json_strings(text)
    integer = text.str.fullmatch(_JSON_INTEGER).to_numpy(dtype=bool)
    out = out.where(~integer, text)
    number = text.str.fullmatch(_JSON_NUMBER).to_numpy(dtype=bool) & ~integer
    if number.any():
        out[number] = float_text(pd.to_numeric(text[number]).to_numpy(dtype=float))
    return out.where(text != "", "")


def _json_strings(text: pd.Series) -> pd.Series:
    escaped = text
    if text.str.contains(r'["\\\x00-\x1f]', regex=True).any():
        escaped = text.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
        escaped = escaped.str.replace(r"[\x00-\x1f]", lambda m: f"\\u{ord(m.group()):04x}", regex=True)
    return '"' + escaped + '"'


def json_objects(columns: dict[str, pd.Series]) -> pd.Series:
    body = None
    for name, raw in columns.items():
        value = _json_values(raw)
        piece = ("," + json.dumps(name) + ":" + value).where(value != "", "")
        body = piece if body is None else body + piece
    return "{" + body.str[1:] + "}"
