"""The parts of a run's page a marketer reads: segment cards, movement, figures per segment, settings.

Every number, amount, share and date goes through display.py, every feature and setting name
through segments/labels.py, and every segment's colour and suggested action come from
segments/playbook.py, so the cards, tables and figures of the page agree.
"""

from __future__ import annotations

from django.conf import settings

from segments import labels, playbook, plots, selectors
from segments.models import SegmentationRun

from .display import EMPTY, admin_url, day, money, moment_text, number, percent

# Features whose values are amounts of money (written "£1,234.50").
MONEY_FEATURES = frozenset({"monetary", "avg_order_value"})
DEFAULT_FEATURES = ("recency_days", "frequency", "monetary")
TRIGGERS = {"admin": "Someone in admin", "command": "The segment command", "schedule": "The schedule", "demo": "The demo"}


def revenue_shares(run: SegmentationRun, profiles: list[dict]) -> dict[str, float | None]:
    """Segment key -> share of revenue: the profiles' own (clustered on spend), else one query."""
    shares = {p.get("key"): p.get("revenue_share") for p in profiles}
    if any(value is not None for value in shares.values()) or not profiles:
        return shares
    by_id = selectors.revenue_shares(run)
    return {p.get("key"): by_id.get(p.get("segment_id")) for p in profiles}


def cards(profiles: list[dict], colours: dict[str, str], shares: dict[str, float | None]) -> list[dict]:
    """One card per segment, largest first: name, size, shares, who they are and what to do."""
    result = []
    largest = max((p.get("size") or 0 for p in profiles), default=0) or 1
    for profile in sorted(profiles, key=lambda p: p.get("size") or 0, reverse=True):
        key = profile.get("key") or ""
        segment_id = profile.get("segment_id")
        action = playbook.suggested_action(key, profile.get("name"), profile)
        result.append(
            {
                "name": profile.get("name") or labels.humanize(key) or f"Segment {profile.get('label')}",
                "url": admin_url("segments_segment_change", segment_id) if segment_id else None,
                "colour": colours.get(key, playbook.NEW_CUSTOMERS_COLOUR),
                "size": number(profile.get("size")),
                "share": percent(profile.get("share")),
                "revenue_share": percent(shares.get(key)),
                "description": profile.get("description") or "",
                "action": action.action,
                "action_detail": action.detail,
                # The size chart's bar, in em: the largest segment 20em, none thinner than a line.
                "bar_em": max(0.2, round(20 * (profile.get("size") or 0) / largest, 2)),
            }
        )
    return result


def movement(transitions: dict, names: dict[str, str], colours: dict[str, str]) -> list[dict]:
    """Per segment: customers now, kept from the last run, joined, new and left, formatted."""
    rows = []
    for row in plots.movement_rows(transitions, names):
        rows.append(
            {
                **{field: number(row[field]) for field in ("now", "before", "kept", "joined", "new", "left")},
                "name": row["name"] if row["name"] != row["key"] else labels.humanize(row["key"]),
                "colour": colours.get(row["key"], playbook.NEW_CUSTOMERS_COLOUR),
            }
        )
    return rows


def transition_rows(transitions: dict, names: dict[str, str]) -> list[dict]:
    return [
        {**row, "customers": number(row["customers"])} for row in plots.transition_rows(transitions, names)
    ]


def feature_table(profiles: list[dict]) -> dict:
    """Per segment, each feature's median and mean, and a last row with all customers' medians.

    The comparison a shop owner makes is "this segment against everyone", so the population
    median (when the profiles carry it) closes the table.
    """
    currency = settings.CURRENCY_SYMBOL
    per_segment = [(p, dict(plots.profile_statistics(p)[1])) for p in profiles]
    names = list(dict.fromkeys(name for _, stats in per_segment for name in stats))
    rows = []
    for profile, stats in sorted(per_segment, key=lambda item: item[0].get("size") or 0, reverse=True):
        cells = [_statistics_cell(name, stats.get(name, {})) for name in names]
        rows.append({"name": profile.get("name") or labels.humanize(profile.get("key") or ""), "cells": cells})
    population = {
        name: stats[name]["population_median"]
        for _, stats in per_segment
        for name in stats
        if "population_median" in stats[name]
    }
    if population:
        rows.append(
            {
                "name": "All customers",
                "cells": [
                    [f"median {_value(name, population[name])}"] if name in population else [] for name in names
                ],
                "population": True,
            }
        )
    return {"features": [labels.feature_label(name, currency=currency) for name in names], "rows": rows}


def _value(feature: str, value) -> str:
    return money(value) if feature in MONEY_FEATURES else number(value)


def _statistics_cell(feature: str, values: dict) -> list[str]:
    """The median and mean of one feature (the two a shop owner compares), else whatever there is."""
    shown = [stat for stat in ("median", "mean") if stat in values] or list(values)
    return [f"{plots.STATISTIC_LABELS.get(stat, stat)} {_value(feature, values[stat])}" for stat in shown]


def settings_rows(run: SegmentationRun) -> list[tuple[str, object]]:
    """What the run was asked to do and when it ran, in words: (label, value) pairs."""
    currency = settings.CURRENCY_SYMBOL
    features = run.features or DEFAULT_FEATURES
    feature_text = ", ".join(labels.feature_label(name, currency=currency) for name in features)
    base = run.base_run_id
    rows = [
        ("Method", run.get_algorithm_display()),
        ("Segments asked for", number(run.k_requested) if run.k_requested else "Chosen automatically"),
        ("Segments found", number(run.k)),
        ("Customer figures used", feature_text + ("" if run.features else " (the default)")),
        ("Figures as of", day(run.as_of) if run.as_of else "The day after the last order"),
        ("Only customers who changed", number(run.incremental)),
        ("Model taken from run", f"Run {base}" if base else EMPTY),
        ("Started by", TRIGGERS.get(run.triggered_by) or labels.humanize(run.triggered_by) or EMPTY),
        ("Created", moment_text(run.created_at)),
        ("Started", moment_text(run.started_at)),
        ("Finished", moment_text(run.finished_at)),
        ("Customers whose order figures were refreshed", number(run.stats_refreshed)),
    ]
    rows += [(labels.setting_label(name), number(value)) for name, value in sorted(run.params.items())]
    return rows
