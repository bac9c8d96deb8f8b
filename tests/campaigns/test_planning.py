"""The planner: who gets what, or why not. Pure: plain frames in, a plan out."""

import datetime as dt

import pandas as pd
import pytest

from campaigns import planning
from campaigns.planning import PlanSettings, RuleSpec

NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
EMAIL = RuleSpec(rule_id=1, priority=1, channel="email", variants=((11, 1),))
SMS = RuleSpec(rule_id=2, priority=2, channel="sms", variants=((21, 1),))
LATE_EMAIL = RuleSpec(rule_id=3, priority=3, channel="email", variants=((31, 1),))


def contacts(n, **overrides):
    frame = pd.DataFrame(
        {
            "email": [f"c{i}@example.com" for i in range(1, n + 1)],
            "phone": [f"+4477009001{i:02d}" for i in range(1, n + 1)],
            "email_consent": True,
            "sms_consent": True,
            "time_zone": "",
        },
        index=pd.Index(range(1, n + 1), name="customer_id"),
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def matches(rows):
    return pd.DataFrame(rows, columns=["customer_id", "segment_id", "rule_id"])


def plan(found, people, *, rules=(EMAIL, SMS, LATE_EMAIL), suppressed=None, recent=None, **settings):
    return planning.plan_run(
        matches=found,
        rules=list(rules),
        contacts=people,
        suppressed=suppressed or {},
        recent_messages=recent if recent is not None else pd.Series(dtype="int64"),
        settings=PlanSettings(now=NOON, **settings),
    )


def test_each_customer_gets_the_first_matching_rule_per_channel():
    result = plan(matches([(1, 7, 3), (1, 7, 1), (1, 7, 2), (2, 7, 3)]), contacts(2))

    got = {(r.customer_id, r.channel): r.rule_id for r in result.messages.itertuples()}
    assert got == {(1, "email"): 1, (1, "sms"): 2, (2, "email"): 3}
    assert result.messages.set_index(["customer_id", "channel"]).loc[(1, "sms"), "to"] == "+447700900101"


def test_every_skip_reason_is_decided_in_order_and_counted():
    people = contacts(5, email=["", "c2@example.com", "c3@example.com", "c4@example.com", "c5@example.com"],
                      email_consent=[True, False, True, True, True])
    found = matches([(i, 7, 1) for i in range(1, 6)])

    result = plan(found, people, rules=(EMAIL,), suppressed={"email": ["c3@example.com"]},
                  recent=pd.Series({4: 2}), frequency_cap=2)

    reasons = dict(zip(result.skipped["customer_id"], result.skipped["reason"]))
    assert reasons == {1: "no_address", 2: "no_consent", 3: "unsubscribed", 4: "frequency_cap"}
    assert list(result.messages["customer_id"]) == [5]
    assert result.summary["skipped"] == {"no_address": 1, "no_consent": 1, "unsubscribed": 1, "frequency_cap": 1}


def test_the_frequency_cap_counts_the_runs_own_messages_highest_priority_first():
    result = plan(matches([(1, 7, 1), (1, 7, 2)]), contacts(1), recent=pd.Series({1: 1}), frequency_cap=2)

    assert list(result.messages["rule_id"]) == [1]
    assert list(result.skipped["reason"]) == ["frequency_cap"]


def test_holdout_is_a_random_share_of_each_segment_recorded_not_dropped():
    found = matches([(i, 7 if i <= 100 else 8, 1) for i in range(1, 141)])

    result = plan(found, contacts(140), rules=(EMAIL,), holdout_percent=10, seed=3)

    held = result.messages[result.messages["holdout"]]
    assert held.groupby("segment_id").size().to_dict() == {7: 10, 8: 4}
    assert len(result.messages) == 140
    assert result.summary["messages"] == 126 and result.summary["holdout"] == 14


def test_the_same_seed_gives_the_same_plan_and_another_seed_another_holdout():
    found = matches([(i, 7, 1) for i in range(1, 201)])

    first = plan(found, contacts(200), rules=(EMAIL,), holdout_percent=20, seed=1)
    again = plan(found, contacts(200), rules=(EMAIL,), holdout_percent=20, seed=1)
    other = plan(found, contacts(200), rules=(EMAIL,), holdout_percent=20, seed=2)

    pd.testing.assert_frame_equal(first.messages, again.messages)
    assert set(first.messages.loc[first.messages.holdout, "customer_id"]) != set(
        other.messages.loc[other.messages.holdout, "customer_id"]
    )


def test_variants_are_drawn_by_weight():
    weighted = RuleSpec(rule_id=1, priority=1, channel="email", variants=((11, 3), (12, 1)))
    found = matches([(i, 7, 1) for i in range(1, 4001)])

    result = plan(found, contacts(4000), rules=(weighted,))

    share = (result.messages["variant_id"] == 11).mean()
    assert share == pytest.approx(0.75, abs=0.03)


@pytest.mark.parametrize(
    "zone, now, expected",
    [
        ("Europe/London", dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)),
        ("Europe/London", dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)),
        ("Europe/London", dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)),
        # 13:00 UTC is 22:00 in Tokyo: quiet until 08:00 there, 23:00 UTC.
        ("Asia/Tokyo", dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)),
        # No time zone: the shop's.
        ("", dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)),
    ],
)
def test_quiet_hours_defer_to_the_morning_in_the_customers_time_zone(zone, now, expected):
    result = planning.plan_run(
        matches=matches([(1, 7, 1)]), rules=[EMAIL], contacts=contacts(1, time_zone=[zone]), suppressed={},
        recent_messages=pd.Series(dtype="int64"),
        settings=PlanSettings(now=now, quiet_start=dt.time(21), quiet_end=dt.time(8), default_time_zone="Europe/London"),
    )

    assert result.messages["send_after"].iloc[0] == pd.Timestamp(expected)
    assert result.summary["deferred_by_quiet_hours"] == (expected != now)


def test_the_summary_counts_per_segment_rule_and_variant():
    found = matches([(1, 7, 1), (2, 7, 1), (3, 8, 2)])

    summary = plan(found, contacts(3, email_consent=[True, False, True])).summary

    assert summary["by_segment"] == {
        "7": {"matched": 2, "messages": 1, "holdout": 0, "skipped": {"no_consent": 1}},
        "8": {"matched": 1, "messages": 1, "holdout": 0, "skipped": {}},
    }
    assert summary["by_rule"] == {"1": 1, "2": 1}
    assert summary["by_variant"] == {"11": 1, "21": 1}
    assert summary["by_channel"] == {"email": 1, "sms": 1}
