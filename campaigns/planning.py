"""Who gets what, or why not: the planner of a campaign run. Pure (pandas and NumPy, no Django).

The database answers which customers each rule matches (segments and conditions compile to
queries, never to code). The planner then decides, for every matched customer and channel, in
one vectorised pass:

1. the rule: the first one by priority that matches, per channel (a customer gets at most one
   message per channel and run);
2. or the reason to skip, in this order: no address, no consent, suppressed (unsubscribed,
   STOP, hard bounce), frequency cap (at most N messages per customer in D days across all
   campaigns and channels; the run's own messages count, highest priority first);
3. holdout: a random share of each segment's reachable customers gets nothing, recorded, so
   that what the campaign changed can be measured against them;
4. the variant, at random by the variants' weights;
5. when to send: now, or after the quiet hours in the customer's time zone (deferred, never
   dropped).

The same inputs and seed give the same plan.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Skip reasons, in the order they are decided.
NO_ADDRESS = "no_address"
NO_CONSENT = "no_consent"
SUPPRESSED = "unsubscribed"
FREQUENCY_CAP = "frequency_cap"
SKIP_REASONS = (NO_ADDRESS, NO_CONSENT, SUPPRESSED, FREQUENCY_CAP)
SKIP_LABELS = {
    NO_ADDRESS: "no email address or phone number for the channel",
    NO_CONSENT: "no consent to marketing on the channel",
    SUPPRESSED: "unsubscribed, replied STOP, or the address bounced",
    FREQUENCY_CAP: "already had the most messages the frequency cap allows",
}
ADDRESS_COLUMN = {"email": "email", "sms": "phone"}
CONSENT_COLUMN = {"email": "email_consent", "sms": "sms_consent"}


@dataclass(frozen=True)
class RuleSpec:
    rule_id: int
    priority: int
    channel: str
    variants: tuple[tuple[int, int], ...]  # (variant id, weight)


@dataclass(frozen=True)
class PlanSettings:
    now: dt.datetime  # aware
    holdout_percent: int = 0
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    frequency_cap: int | None = None  # messages in the window; None: no cap
    default_time_zone: str = "UTC"
    seed: int = 0


@dataclass
class Plan:
    """messages: one row per planned (customer, channel): customer_id, segment_id, channel,
    rule_id, variant_id, to, holdout, send_after. skipped: customer_id, segment_id, channel,
    rule_id, reason."""

    messages: pd.DataFrame
    skipped: pd.DataFrame
    summary: dict = field(default_factory=dict)


def plan_run(
    *,
    matches: pd.DataFrame,
    rules: Sequence[RuleSpec],
    contacts: pd.DataFrame,
    suppressed: Mapping[str, Sequence[str]],
    recent_messages: pd.Series,
    settings: PlanSettings,
) -> Plan:
    """Plan one run.

    matches: customer_id, segment_id, rule_id for every rule a customer matches.
    contacts: email, phone, email_consent, sms_consent, time_zone, indexed by customer_id.
    suppressed: channel -> addresses that must not be messaged.
    recent_messages: customer_id -> messages in the frequency cap's window.
    """
    by_id = {rule.rule_id: rule for rule in rules}
    unknown = set(matches["rule_id"].unique()) - set(by_id)
    if unknown:
        raise ValueError(f"matches name rules the plan was not given: {sorted(unknown)}")
    rng = np.random.default_rng(settings.seed)
    chosen = _first_rule_per_channel(matches, by_id)
    chosen = chosen.join(contacts, on="customer_id")
    chosen["to"] = _address(chosen)
    reason = _skip_reasons(chosen, suppressed, recent_messages, settings)
    skipped = chosen.loc[reason != "", ["customer_id", "segment_id", "channel", "rule_id"]].assign(
        reason=reason[reason != ""].to_numpy()
    )
    planned = chosen[reason == ""].reset_index(drop=True)
    planned["holdout"] = _holdout(planned, settings.holdout_percent, rng)
    planned["variant_id"] = _variants(planned, by_id, rng)
    planned["send_after"] = _send_after(planned["time_zone"], settings)
    messages = planned[["customer_id", "segment_id", "channel", "rule_id", "variant_id", "to", "holdout", "send_after"]]
    skipped = skipped.reset_index(drop=True)
    return Plan(messages=messages, skipped=skipped, summary=summarise(messages, skipped, matches, now=settings.now))


def _first_rule_per_channel(matches: pd.DataFrame, rules: Mapping[int, RuleSpec]) -> pd.DataFrame:
    frame = matches[["customer_id", "segment_id", "rule_id"]].copy()
    frame["channel"] = frame["rule_id"].map({rid: rule.channel for rid, rule in rules.items()})
    frame["priority"] = frame["rule_id"].map({rid: rule.priority for rid, rule in rules.items()})
    frame = frame.sort_values(["customer_id", "channel", "priority", "rule_id"], kind="stable")
    return frame.drop_duplicates(["customer_id", "channel"]).reset_index(drop=True)


def _address(frame: pd.DataFrame) -> pd.Series:
    email = frame["email"].fillna("").astype(str)
    phone = frame["phone"].fillna("").astype(str)
    return pd.Series(np.where(frame["channel"] == "email", email, phone), index=frame.index, dtype=object)


def _skip_reasons(frame, suppressed, recent_messages, settings: PlanSettings) -> pd.Series:
    reason = pd.Series("", index=frame.index, dtype=object)
    no_address = frame["to"] == ""
    reason[no_address] = NO_ADDRESS
    consent = np.where(frame["channel"] == "email", frame["email_consent"], frame["sms_consent"])
    no_consent = (reason == "") & ~pd.Series(consent, index=frame.index).fillna(False).astype(bool)
    reason[no_consent] = NO_CONSENT
    is_suppressed = pd.Series(False, index=frame.index)
    for channel, addresses in suppressed.items():
        is_suppressed |= (frame["channel"] == channel) & frame["to"].isin(pd.Index(list(addresses)))
    reason[(reason == "") & is_suppressed] = SUPPRESSED
    if settings.frequency_cap is not None:
        reachable = reason == ""
        allowed = settings.frequency_cap - frame["customer_id"].map(recent_messages).fillna(0).astype(int)
        # The run's own messages count too: a customer with room for one gets the highest priority one.
        order = frame[reachable].sort_values(["customer_id", "priority", "rule_id"], kind="stable")
        rank = pd.Series(0, index=frame.index)
        rank[order.index] = order.groupby("customer_id").cumcount().to_numpy()
        reason[reachable & (rank >= allowed)] = FREQUENCY_CAP
    return reason


def _holdout(planned: pd.DataFrame, percent: int, rng: np.random.Generator) -> np.ndarray:
    """A random `percent` of each segment's customers (rounded), all of their messages."""
    holdout = np.zeros(len(planned), dtype=bool)
    if not percent or planned.empty:
        return holdout
    customers = planned[["customer_id", "segment_id"]].drop_duplicates("customer_id")
    # A random key per customer, then per segment the lowest keys are held out.
    customers = customers.assign(key=rng.random(len(customers))).sort_values(["segment_id", "key"])
    position = customers.groupby("segment_id").cumcount().to_numpy()
    size = customers.groupby("segment_id")["customer_id"].transform("size").to_numpy()
    held = customers["customer_id"].to_numpy()[position < np.round(size * percent / 100.0)]
    return planned["customer_id"].isin(held).to_numpy()


def _variants(planned: pd.DataFrame, rules: Mapping[int, RuleSpec], rng: np.random.Generator) -> np.ndarray:
    variant = np.zeros(len(planned), dtype=np.int64)
    draws = rng.random(len(planned))
    rule_ids = planned["rule_id"].to_numpy()
    for rule_id, rule in rules.items():
        rows = rule_ids == rule_id
        if not rows.any():
            continue
        if not rule.variants:
            raise ValueError(f"rule {rule_id} has no template variant")
        ids = np.array([v for v, _ in rule.variants], dtype=np.int64)
        weights = np.array([w for _, w in rule.variants], dtype=np.float64)
        edges = np.cumsum(weights) / weights.sum()
        variant[rows] = ids[np.minimum(np.searchsorted(edges, draws[rows], side="right"), len(ids) - 1)]
    return variant


def _send_after(time_zones: pd.Series, settings: PlanSettings) -> pd.Series:
    """Now, or the end of the quiet hours in each customer's time zone when it is quiet there now."""
    now = pd.Timestamp(settings.now).tz_convert("UTC")
    result = pd.Series(now, index=time_zones.index, dtype="datetime64[us, UTC]")
    if settings.quiet_start is None or settings.quiet_end is None or settings.quiet_start == settings.quiet_end:
        return result
    zones = time_zones.fillna("").astype(str).replace("", settings.default_time_zone)
    for name in zones.unique():
        wakes = _quiet_until(now.to_pydatetime(), _zone(name, settings.default_time_zone), settings)
        if wakes is not None:
            result[zones == name] = pd.Timestamp(wakes).tz_convert("UTC")
    return result


def _zone(name: str, default: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(default)


def _quiet_until(now: dt.datetime, zone: zoneinfo.ZoneInfo, settings: PlanSettings) -> dt.datetime | None:
    """When the quiet hours end if it is quiet in `zone` at `now`, else None."""
    local = now.astimezone(zone)
    start, end, clock = settings.quiet_start, settings.quiet_end, local.time()
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone)


def summarise(messages: pd.DataFrame, skipped: pd.DataFrame, matches: pd.DataFrame, *, now: dt.datetime) -> dict:
    """Counts per segment, rule and variant, and every skip reason with its count (JSON-ready)."""
    sendable = messages[~messages["holdout"]]
    deferred = int((sendable["send_after"] > pd.Timestamp(now)).sum())

    def counts(frame, column):
        return {str(key): int(value) for key, value in frame[column].value_counts().sort_index().items()}

    segments = {}
    for segment_id in sorted(set(matches["segment_id"].unique()) | set(messages["segment_id"].unique())):
        in_segment = messages[messages["segment_id"] == segment_id]
        skipped_here = skipped[skipped["segment_id"] == segment_id]
        segments[str(int(segment_id))] = {
            "matched": int(matches.loc[matches["segment_id"] == segment_id, "customer_id"].nunique()),
            "messages": int((~in_segment["holdout"]).sum()),
            "holdout": int(in_segment["holdout"].sum()),
            "skipped": counts(skipped_here, "reason"),
        }
    return {
        "customers_matched": int(matches["customer_id"].nunique()),
        "messages": int(len(sendable)),
        "holdout": int(messages["holdout"].sum()),
        "deferred_by_quiet_hours": deferred,
        "by_channel": counts(sendable, "channel"),
        "by_segment": segments,
        "by_rule": counts(sendable, "rule_id"),
        "by_variant": counts(sendable, "variant_id"),
        "skipped": {reason: int((skipped["reason"] == reason).sum()) for reason in SKIP_REASONS},
    }
