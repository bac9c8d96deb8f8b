"""A short, unique English name per segment from its profile: RFM vocabulary or its distinctive features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .profiles import clean, percentiles
from .rfm import RFM_COLUMNS, RFM_GRID
from .wording import distinctive_features, level_word

NOISE_NAME = "Outliers"
NO_ORDERS_NAME = "Not yet purchased"
FEW_ORDERS_NAME = "Hardly purchased"  # most never bought (or returned what they bought); some did


def _score(percentile: float) -> int:
    return int(min(5, max(1, math.ceil(percentile / 20.0))))


def name_segments(profiles: list[dict], *, population: pd.DataFrame | None = None) -> dict[int, str]:
    """A short, unique name per label from its profile, relative to the whole population.

    With recency_days, frequency and monetary: the segment's medians are scored 1..5 by their
    percentile among all customers (recency reversed) and named with the RFM vocabulary (the
    RFM_GRID; "New"/"Promising" for recent groups with one order; "Big spenders" for few but large
    orders, "Bargain hunters" for many small ones; "Not yet purchased"). Otherwise from the two
    most distinctive features ("High money_spent, few complains"). Two segments that would share a
    name get a qualifier from the feature that separates them most ("Champions (higher spend)",
    "Champions (lower spend)"). Noise: "Outliers".
    population (the features frame) recomputes the percentiles; without it the profiles' own are used.
    """
    profiles = [dict(item) for item in profiles]
    if population is not None:
        for item in profiles:
            item["percentile"] = {
                name: clean(percentiles(
                    population[name].to_numpy(dtype=np.float64, na_value=np.nan), np.array([value], dtype=np.float64)
                )[0], 1)
                for name, value in item["median"].items()
                if name in population.columns and value is not None
            }
    names: dict[int, str] = {}
    for item in profiles:
        names[item["label"]] = NOISE_NAME if item.get("noise") or item["label"] < 0 else _base_name(item)
    _disambiguate(names, {item["label"]: item for item in profiles})
    return names


def _base_name(item: dict) -> str:
    median, percentile = item["median"], item["percentile"]
    if all(percentile.get(name) is not None for name in RFM_COLUMNS):
        if (median["frequency"] or 0) <= 0:
            return NO_ORDERS_NAME if ((item.get("mean") or {}).get("frequency") or 0) <= 0 else FEW_ORDERS_NAME
        r = _score(100.0 - percentile["recency_days"])
        f = _score(percentile["frequency"])
        m = _score(percentile["monetary"])
        # One order is the commonest count, so its percentile lands mid-pack; a recent group that
        # ordered once is new whatever the rank says.
        if median["frequency"] <= 1 and r >= 4:
            return "New" if r == 5 else "Promising"
        if r >= 3 and m - f >= 2:
            return "Big spenders"
        if r >= 3 and f - m >= 2:
            return "Bargain hunters"
        return str(RFM_GRID[r - 1, (f + m) // 2 - 1])
    distinctive = distinctive_features(item, limit=2)
    if not distinctive:
        return "Typical customers"
    return ", ".join(f"{level_word(item, name, capital=i == 0)} {name}" for i, name in enumerate(distinctive))


_ADJECTIVES = {
    2: ("lower", "higher"),
    3: ("low", "mid", "high"),
    4: ("lowest", "low", "high", "highest"),
    5: ("lowest", "low", "mid", "high", "highest"),
}
_NOUNS = {"monetary": "spend", "frequency": "frequency", "recency_days": "recency"}
_RECENCY_WORDS = {2: ("recent", "lapsed"), 3: ("recent", "fading", "lapsed")}


def _disambiguate(names: dict[int, str], items: dict[int, dict]) -> None:
    groups: dict[str, list[int]] = {}
    for label, name in names.items():
        groups.setdefault(name, []).append(label)
    for name, labels in groups.items():
        if len(labels) < 2:
            continue
        qualifiers = _qualifiers([items[label] for label in labels])
        for label, qualifier in zip(labels, qualifiers):
            names[label] = f"{name} ({qualifier})" if qualifier else name
    # Last resort, for segments no feature tells apart: number them by size.
    seen: dict[str, int] = {}
    for label in sorted(names, key=lambda label: (label < 0, label)):
        name = names[label]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[label] = f"{name} {seen[name]}"


def _qualifiers(group: list[dict]) -> list[str | None]:
    """A word per segment from the feature whose percentiles differ most across the group."""
    candidates = [name for name in RFM_COLUMNS if name in group[0]["percentile"]]
    candidates += sorted(name for name in group[0]["percentile"] if name not in candidates)
    spread = []
    for position, name in enumerate(candidates):
        values = [item["percentile"].get(name) for item in group]
        if any(value is None for value in values) or len(set(values)) < len(values):
            continue
        spread.append((max(values) - min(values), -position, name))
    if not spread or max(spread)[0] < 5 or len(group) not in _ADJECTIVES:
        return [None] * len(group)
    name = max(spread)[2]
    ranked = sorted(range(len(group)), key=lambda i: group[i]["percentile"][name])
    words = [""] * len(group)
    if name == "recency_days" and len(group) in _RECENCY_WORDS:
        for rank, i in enumerate(ranked):
            words[i] = _RECENCY_WORDS[len(group)][rank]
        return words
    noun = _NOUNS.get(name, name)
    for rank, i in enumerate(ranked):
        words[i] = f"{_ADJECTIVES[len(group)][rank]} {noun}"
    return words
