"""Whether a segment's customers changed so much in a refit that a name a person gave may no longer fit.

A marketer who renamed a segment "Regulars - 2 orders a year" meant the customers it held then.
A refit matches the cluster that is nearest to it, which may hold quite different customers
("1 order, £65"). The name stays (it was chosen by hand), so the change is flagged instead.

The rule: a segment changed materially when the median customer's recency, frequency or spend
moved by a factor of DRIFT_FACTOR or more between the two profiles (up by half, or down by a
third). Each figure counts from a floor, so that small numbers moving a little (3 days since
the last order becoming 5) are not a change anyone would rename a segment for.
"""

from __future__ import annotations

from collections.abc import Mapping

from .wording import fmt

DRIFT_FACTOR = 1.5
# Below these the figures are all "about nothing": 30 days is recent, one order is one order.
FLOORS = {"recency_days": 30.0, "frequency": 1.0, "monetary": 10.0}


def profile_drift(before: Mapping, after: Mapping) -> list[tuple[str, float, float]]:
    """(feature, median before, median after) for each RFM median that moved materially.

    before, after: profiles in original units (clustering.profile's dicts, or a segment's stored
    profile). A feature missing from either side is not compared.
    """
    old, new = (before or {}).get("median") or {}, (after or {}).get("median") or {}
    changed = []
    for name, floor in FLOORS.items():
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            continue
        low, high = sorted((max(float(a), floor), max(float(b), floor)))
        if high >= DRIFT_FACTOR * low:
            changed.append((name, float(a), float(b)))
    return changed


def drift_message(
    name: str, changes: list[tuple[str, float, float]], *, run_id: int, currency: str, new_name: str = ""
) -> str:
    """The flag's words: which figures moved, from what to what, and what to do."""
    parts = [f"{_figure(feature, a, currency)} to {_figure(feature, b, currency)}" for feature, a, b in changes]
    suggestion = ""
    if new_name and new_name != name:
        suggestion = f" (from its customers alone it would now be called {new_name!r})"
    return (
        f"The customers of {name!r} changed in run {run_id}: the median customer went from {_join(parts)}. "
        f"The name was given by hand and is kept: check that it still fits{suggestion}, and rename the segment "
        "if not."
    )


def _figure(feature: str, value: float, currency: str) -> str:
    if feature == "frequency":
        return f"{fmt(value)} order{'' if value == 1 else 's'}"
    if feature == "monetary":
        return f"{currency}{fmt(value)} spent"
    days = round(value)
    return f"{fmt(days)} day{'' if days == 1 else 's'} since the last order"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
