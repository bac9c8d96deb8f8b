"""Numbers and segments in English: the one-line description of a profile, and the words
naming.py builds names from."""

from __future__ import annotations

import math

from .rfm import RFM_COLUMNS

# A feature is worth naming a segment by when the segment's median sits at least this many
# percentile points from the population's middle (50).
_DISTINCTIVE_FROM = 10.0


def fmt(value: float | None) -> str:
    """A number as people read it: thousands separated, at most two decimals, "unknown" for none."""
    if value is None or not math.isfinite(value):
        return "unknown"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _money(value: float, currency: str) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.0f}"


def _comparison(percentile: float | None) -> str:
    if percentile is None:
        return "about the same as"
    for floor, words in ((80, "far more than"), (60, "more than"), (40, "about the same as"), (20, "less than")):
        if percentile >= floor:
            return words
    return "far less than"


def describe(item: dict, *, currency: str) -> str:
    """One sentence on a profile: RFM medians against the typical customer, else its distinctive features."""
    median, percentile, population = item["median"], item["percentile"], item["population_median"]
    prefix = "Unusual customers who fit no segment. " if item["noise"] else ""
    if all(name in median for name in RFM_COLUMNS):
        frequency = median["frequency"] or 0
        if frequency <= 0:
            # The median customer never bought; when some did (say a purchase later returned),
            # "has not ordered yet" would be untrue of them.
            mean = (item.get("mean") or {}).get("frequency") or 0
            if mean <= 0:
                return prefix + "Has not ordered yet."
            return prefix + f"Most have not bought anything they kept ({fmt(mean)} orders per customer on average)."
        days = None if median["recency_days"] is None else round(median["recency_days"])
        when = "today" if days == 0 else f"{fmt(days)} day{'s' if days != 1 else ''} ago"
        orders = f"{fmt(frequency)} order{'s' if frequency != 1 else ''}"
        spend = median["monetary"]
        return (
            f"{prefix}Bought {when} on median, {orders}, spends {_money(spend, currency)} - "
            f"{_comparison(percentile['monetary'])} the typical customer ({_money(population['monetary'], currency)})."
        )
    distinctive = distinctive_features(item, limit=3)
    if not distinctive:
        return prefix + "Close to the typical customer on every feature."
    parts = [
        f"{level_word(item, name, capital=i == 0)} {name}: {fmt(median[name])} against {fmt(population[name])} typical"
        for i, name in enumerate(distinctive)
    ]
    return prefix + "; ".join(parts) + "."


def distinctive_features(item: dict, *, limit: int) -> list[str]:
    """Feature names whose segment median sits furthest from the population's middle."""
    scored = [
        (-abs(p - 50.0), position, name)
        for position, (name, p) in enumerate(item["percentile"].items())
        if p is not None and abs(p - 50.0) >= _DISTINCTIVE_FROM
    ]
    return [name for _, _, name in sorted(scored)[:limit]]  # ties: in the order of the feature columns


def level_word(item: dict, name: str, *, capital: bool) -> str:
    high = item["percentile"][name] >= 50
    counts = name in item.get("integer_columns", ())
    word = ("many" if high else "few") if counts else ("high" if high else "low")
    return word.capitalize() if capital else word
