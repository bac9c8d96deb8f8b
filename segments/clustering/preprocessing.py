"""Features in original units -> the scaled matrix the algorithms cluster, and back again for new rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ClusteringError
from .wording import fmt


@dataclass
class Preprocessed:
    X: np.ndarray
    columns: list[str]
    state: dict


def preprocess(
    frame: pd.DataFrame,
    *,
    scaler: str = "standard",
    log1p: str | Sequence[str] = "auto",
    categorical: Sequence[str] = (),
) -> Preprocessed:
    """Impute, log-transform, scale and one-hot `frame` into the matrix the algorithms cluster.

    - Missing numbers take the column median (recorded in state["impute"]).
    - log1p="auto" log-transforms numeric columns with skew > 1 (long-tailed money and counts),
      except 0/1 columns. The transform is the signed log sign(x) * log1p(|x|): identical to log1p
      for non-negative values, and it keeps net spend with returns (negative) on the same scale.
      state["log1p"] lists the columns; state["signed_log1p"] the ones that had negative values.
      A list names the columns explicitly; () or [] turns the log off.
    - scaler="standard" centres on the mean and divides by the standard deviation (StandardScaler);
      "robust" uses the median and the interquartile range (RobustScaler). A column with the same
      value for every customer cannot be scaled: ClusteringError names it. With "robust", a column
      whose IQR is 0 but which does vary (more than half the customers bought exactly once) is
      divided by its standard deviation instead, recorded in state["scale_fallback"].
    - `categorical` columns are one-hot encoded (0/1, not scaled) after the numeric ones, named
      "column=value"; unknown or missing values in later rows encode as all zeros.
    """
    if scaler not in ("standard", "robust"):
        raise ClusteringError(f"unknown scaler {scaler!r}: use 'standard' or 'robust'")
    if len(frame.columns) == 0:
        raise ClusteringError("no feature columns to cluster on")
    if len(frame) == 0:
        raise ClusteringError("no customers to cluster: the feature frame is empty")
    categorical = list(categorical)
    missing = [name for name in categorical if name not in frame.columns]
    if missing:
        raise ClusteringError(f"categorical column(s) {missing} not in the features {list(frame.columns)}")
    numeric = [name for name in frame.columns if name not in categorical]

    impute, values = {}, {}
    for name in numeric:
        column = _numeric_column(frame, name)
        present = column[~np.isnan(column)]
        if present.size == 0:
            raise ClusteringError(f"column {name!r} has no values: every customer is missing it")
        impute[name] = float(np.median(present))
        values[name] = np.where(np.isnan(column), impute[name], column)

    if isinstance(log1p, str):
        if log1p != "auto":
            raise ClusteringError(f"log1p must be 'auto' or a list of column names, not {log1p!r}")
        logged = [name for name in numeric if _is_long_tailed(values[name])]
    else:
        logged = list(log1p)
        unknown = [name for name in logged if name not in numeric]
        if unknown:
            raise ClusteringError(f"cannot log-transform {unknown}: not numeric feature columns {numeric}")

    center, scale, fallback = {}, {}, {}
    for name in numeric:
        column = _signed_log1p(values[name]) if name in logged else values[name]
        if scaler == "standard":
            center[name], scale[name] = float(column.mean()), float(column.std())
        else:
            q25, median, q75 = np.percentile(column, [25, 50, 75])
            center[name], scale[name] = float(median), float(q75 - q25)
            if scale[name] == 0:
                scale[name] = float(column.std())
                fallback[name] = "std"
        if not scale[name] > 0:
            raise ClusteringError(
                f"column {name!r} has the same value for every customer ({fmt(values[name][0])}), "
                "so it cannot be scaled or separate segments: leave it out"
            )

    categories = {name: sorted(frame[name].dropna().astype("str").unique().tolist()) for name in categorical}
    state = {
        "version": 1,
        "input_columns": [str(name) for name in frame.columns],
        "numeric": numeric,
        "categorical": categorical,
        "impute": impute,
        "log1p": logged,
        "signed_log1p": [name for name in logged if values[name].min() < 0],
        "scaler": scaler,
        "center": center,
        "scale": scale,
        "scale_fallback": fallback,
        "categories": categories,
    }
    state["columns"] = _output_columns(state)
    return Preprocessed(X=transform(frame, state), columns=list(state["columns"]), state=state)


def transform(frame: pd.DataFrame, state: dict) -> np.ndarray:
    """Apply a fitted preprocessing (Preprocessed.state, also after a JSON round trip) to rows."""
    missing = [name for name in state["input_columns"] if name not in frame.columns]
    if missing:
        raise ClusteringError(f"the rows lack the column(s) {missing} this model was fitted on")
    X = np.zeros((len(frame), len(state["columns"])), dtype=np.float64)
    logged = set(state["log1p"])
    for j, name in enumerate(state["numeric"]):
        column = _numeric_column(frame, name)
        column = np.where(np.isnan(column), state["impute"][name], column)
        if name in logged:
            column = _signed_log1p(column)
        X[:, j] = (column - state["center"][name]) / state["scale"][name]
    offset = len(state["numeric"])
    for name in state["categorical"]:
        known = state["categories"][name]
        codes = pd.Index(known, dtype=object).get_indexer(frame[name].astype("str").to_numpy(dtype=object))
        rows = np.flatnonzero(codes >= 0)
        X[rows, offset + codes[rows]] = 1.0
        offset += len(known)
    return X


def _output_columns(state: dict) -> list[str]:
    columns = list(state["numeric"])
    for name in state["categorical"]:
        columns.extend(f"{name}={value}" for value in state["categories"][name])
    return columns


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    series = frame[name]
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    if not pd.api.types.is_numeric_dtype(series.dtype):
        example = series.dropna().iloc[0] if series.notna().any() else None
        raise ClusteringError(
            f"column {name!r} is not numeric (e.g. {example!r}): pass it in categorical=[...] or leave it out"
        )
    column = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(column).any():
        raise ClusteringError(f"column {name!r} has infinite values")
    return column


def _is_long_tailed(column: np.ndarray) -> bool:
    # A 0/1 flag with few ones is "skewed" too, but logging it changes nothing useful.
    if np.isin(column, (0.0, 1.0)).all():
        return False
    skew = pd.Series(column).skew()
    return bool(np.isfinite(skew) and skew > 1)


def _signed_log1p(column: np.ndarray) -> np.ndarray:
    return np.sign(column) * np.log1p(np.abs(column))
