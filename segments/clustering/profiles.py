"""Segments in original units: size, share, revenue share, mean, median and percentile per label."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .matrix import check_labels
from .wording import describe


def profile(features: pd.DataFrame, labels: np.ndarray, *, currency: str = "£") -> list[dict]:
    """One profile per label in original units: size, share, revenue share, mean, median, percentile.

    "percentile" is where the segment's median sits among all customers (0-100, ties count half):
    a scale-free "how unusual is this segment" that name_segments uses. The noise label (-1) comes
    last with "noise": True. Values are plain floats (NaN -> None) so the list stores as JSON.
    """
    labels = check_labels(labels, len(features), "customers")
    if len(features) == 0:
        return []
    numeric = [
        name for name in features.columns
        if pd.api.types.is_numeric_dtype(features[name].dtype) or pd.api.types.is_bool_dtype(features[name].dtype)
    ]
    data = pd.DataFrame(
        {name: features[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in numeric}, index=None
    )
    grouped = data.groupby(labels, sort=True)
    means, medians, sizes = grouped.mean(), grouped.median(), grouped.size()
    population_median = data.median()
    integer_columns = [name for name in numeric if np.allclose(data[name].dropna() % 1, 0)]
    order = [label for label in sizes.index if label >= 0] + [label for label in sizes.index if label < 0]
    median_percentiles = {name: percentiles(data[name].to_numpy(), medians[name].to_numpy()) for name in numeric}
    position = {label: i for i, label in enumerate(sizes.index)}
    revenue = None
    if "monetary" in data.columns:
        revenue_by_label = grouped["monetary"].sum()
        total = float(data["monetary"].sum())
        revenue = {label: float(revenue_by_label[label]) / total if total > 0 else None for label in sizes.index}

    n = len(features)
    profiles = []
    for label in order:
        item = {
            "label": int(label),
            "size": int(sizes[label]),
            "share": round(int(sizes[label]) / n, 4),
            "revenue_share": clean(revenue[label]) if revenue else None,
            "mean": {name: clean(means.at[label, name]) for name in numeric},
            "median": {name: clean(medians.at[label, name]) for name in numeric},
            "percentile": {name: clean(median_percentiles[name][position[label]], 1) for name in numeric},
            "population_median": {name: clean(population_median[name]) for name in numeric},
            "integer_columns": integer_columns,
            "noise": bool(label < 0),
        }
        item["description"] = describe(item, currency=currency)
        profiles.append(item)
    return profiles


def percentiles(column: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0-100) of each point among the column's values, NaN ignored."""
    column = column[~np.isnan(column)]
    if column.size == 0:
        return np.full(len(points), np.nan)
    column = np.sort(column)
    below = np.searchsorted(column, points, side="left")
    upto = np.searchsorted(column, points, side="right")
    result = 100.0 * (below + upto) / (2 * column.size)
    return np.where(np.isnan(points), np.nan, result)


def clean(value, digits: int = 4):
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)
