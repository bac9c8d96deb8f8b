"""Features in original units -> the scaled matrix the algorithms cluster; the same steps for new rows."""

from __future__ import annotations

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


def preprocess(frame: pd.DataFrame, *, scaler: str = "standard") -> Preprocessed:
    """Impute, log-transform and scale the numeric columns of `frame` into the matrix the algorithms cluster.

    - Missing numbers take the column median (recorded in state["impute"]).
    - Columns with skew > 1 (long-tailed money and counts) are log-transformed, except 0/1
      columns. The transform is the signed log sign(x) * log1p(|x|): identical to log1p for
      non-negative values, and it keeps net spend with returns (negative) on the same scale.
      state["log1p"] lists the columns; state["signed_log1p"] the ones that had negative values.
    - scaler="standard" centres on the mean and divides by the standard deviation (StandardScaler);
      "robust" uses the median and the interquartile range (RobustScaler). A column with the same
      value for every customer cannot be scaled: ClusteringError names it. With "robust", a column
      whose IQR is 0 but which does vary (more than half the customers bought exactly once) is
      divided by its standard deviation instead, recorded in state["scale_fallback"].
    """
    if scaler not in ("standard", "robust"):
        raise ClusteringError(f"unknown scaler {scaler!r}: use 'standard' or 'robust'")
    if len(frame.columns) == 0:
        raise ClusteringError("no feature columns to cluster on")
    if len(frame) == 0:
        raise ClusteringError("no customers to cluster: the feature frame is empty")
    columns = list(frame.columns)

    impute, values = {}, {}
    for name in columns:
        column = _numeric_column(frame, name)
        present = column[~np.isnan(column)]
        if present.size == 0:
            raise ClusteringError(f"column {name!r} has no values: every customer is missing it")
        impute[name] = float(np.median(present))
        values[name] = np.where(np.isnan(column), impute[name], column)
    logged = [name for name in columns if _is_long_tailed(values[name])]

    center, scale, fallback = {}, {}, {}
    for name in columns:
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

    state = {
        "columns": columns,
        "impute": impute,
        "log1p": logged,
        "signed_log1p": [name for name in logged if values[name].min() < 0],
        "scaler": scaler,
        "center": center,
        "scale": scale,
        "scale_fallback": fallback,
    }
    return Preprocessed(X=transform(frame, state), columns=list(columns), state=state)


def transform(frame: pd.DataFrame, state: dict) -> np.ndarray:
    """Apply a fitted preprocessing (Preprocessed.state, also after a JSON round trip) to rows.

    States stored by earlier versions also hold "version", "input_columns" and "numeric" (both
    the same list as "columns"), "categorical" (always empty) and "categories": they are ignored.
    """
    columns = state["columns"]
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ClusteringError(f"the rows lack the column(s) {missing} this model was fitted on")
    X = np.empty((len(frame), len(columns)), dtype=np.float64)
    logged = set(state["log1p"])
    for j, name in enumerate(columns):
        column = _numeric_column(frame, name)
        column = np.where(np.isnan(column), state["impute"][name], column)
        if name in logged:
            column = _signed_log1p(column)
        X[:, j] = (column - state["center"][name]) / state["scale"][name]
    return X


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    series = frame[name]
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    if not pd.api.types.is_numeric_dtype(series.dtype):
        example = series.dropna().iloc[0] if series.notna().any() else None
        raise ClusteringError(
            f"column {name!r} is not numeric (e.g. {example!r}): leave it out"
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
