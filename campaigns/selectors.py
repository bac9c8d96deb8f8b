"""The reads of the campaigns app: a run's progress, the message export, the plan in words."""

from __future__ import annotations

import pandas as pd
from django.db.models import Count

from campaigns.models import Campaign, CampaignRun, Message, Rule, Variant
from campaigns.planning import SKIP_LABELS
from segcampaign.dbframes import read_frame
from segments import selectors as segments

EXPORT_COLUMNS = ["message_id", "customer_id", "segment", "rule", "variant", "channel", "status", "holdout"]


def run_message_counts(*, run_id: int) -> dict[str, int]:
    """Messages of a run by status (holdout rows included, as 'holdout')."""
    rows = Message.objects.filter(run_id=run_id).values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def run_progress(run: CampaignRun) -> dict:
    """What a progress bar needs: messages to send, sent, failed, waiting, and the share done."""
    counts = run_message_counts(run_id=run.pk)
    to_send = sum(n for status, n in counts.items() if status != Message.Status.HOLDOUT)
    finished = sum(counts.get(s, 0) for s in (Message.Status.SENT, Message.Status.FAILED, Message.Status.UNKNOWN,
                                               Message.Status.CANCELLED))
    return {
        "counts": counts,
        "to_send": to_send,
        "sent": counts.get(Message.Status.SENT, 0),
        "failed": counts.get(Message.Status.FAILED, 0),
        "unknown": counts.get(Message.Status.UNKNOWN, 0),
        "waiting": sum(counts.get(s, 0) for s in (Message.Status.PENDING, Message.Status.CLAIMED,
                                                   Message.Status.SENDING)),
        "percent": round(100 * finished / to_send) if to_send else 100,
    }


def runs_with_unsent_messages(*, campaign: Campaign) -> list[int]:
    """The campaign's runs that still have messages waiting to be sent (pending or claimed),
    read through the outbox's index of due messages."""
    runs = list(campaign.runs.filter(status=CampaignRun.Status.SUCCEEDED).values_list("pk", flat=True))
    waiting = Message.objects.filter(run_id__in=runs, status__in=[Message.Status.PENDING, Message.Status.CLAIMED])
    return sorted(set(waiting.values_list("run_id", flat=True).distinct().order_by()))


def messages_export(*, campaign: Campaign) -> pd.DataFrame:
    """One row per message of the campaign's runs, in EXPORT_COLUMNS, read in one query."""
    table = Message._meta.db_table
    runs = list(campaign.runs.values_list("pk", flat=True))
    if not runs:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    frame = read_frame(
        f"SELECT id, customer_id, segment_id, rule_id, variant_id, channel, status, holdout FROM {table} "
        f"WHERE run_id IN ({', '.join(str(int(pk)) for pk in runs)}) ORDER BY id",
        [],
        columns=["message_id", "customer", "segment_id", "rule_id", "variant_id", "channel", "status", "holdout"],
    )
    customers = segments.customer_external_ids(frame["customer"].to_numpy())
    names = {pk: s.name for pk, s in segments.segments_by_id(frame["segment_id"].dropna().unique().tolist()).items()}
    rules = dict(Rule.objects.filter(campaign=campaign).values_list("pk", "priority"))
    templates = dict(Variant.objects.filter(rule__campaign=campaign).values_list("pk", "template__name"))
    out = pd.DataFrame(
        {
            "message_id": frame["message_id"],
            "customer_id": frame["customer"].map(customers),
            "segment": frame["segment_id"].map(names),
            "rule": frame["rule_id"].map(rules),
            "variant": frame["variant_id"].map(templates),
            "channel": frame["channel"],
            "status": frame["status"],
            "holdout": frame["holdout"].astype(str).str.lower().isin(["t", "true", "1"]),
        }
    )
    return out[EXPORT_COLUMNS]


def plan_lines(result: dict) -> list[str]:
    """A plan (and a launched run) as a person reads it."""
    plan = result["plan"]
    head = "Plan (dry run, nothing written)" if result["dry_run"] else f"Run {result['run']} ({result['status']})"
    if not plan:
        # Queued for the workers, which have not planned it yet (a broker is configured).
        return [f"{head} of campaign {result['campaign']!r}: queued; the workers plan and send it. "
                "Its progress shows on the campaign's admin page."]
    lines = [
        f"{head} of campaign {result['campaign']!r}: {plan['customers_matched']:,} customers matched, "
        f"{plan['messages']:,} messages, {plan['holdout']:,} held out, "
        f"{plan['deferred_by_quiet_hours']:,} waiting for the end of quiet hours",
        "By segment:",
    ]
    for name, counts in plan["by_segment"].items():
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in counts["skipped"].items()) or "none"
        lines.append(f"  {name:<28} matched {counts['matched']:>7,}  messages {counts['messages']:>7,}  "
                     f"held out {counts['holdout']:>6,}  skipped: {skipped}")
    lines.append("By rule: " + (", ".join(f"{rule} {n:,}" for rule, n in plan["by_rule"].items()) or "none"))
    lines.append("By template: " + (", ".join(f"{name} {n:,}" for name, n in plan["by_variant"].items()) or "none"))
    lines.append("Skipped:")
    for reason, n in plan["skipped"].items():
        lines.append(f"  {n:>7,}  {SKIP_LABELS[reason]}")
    if "messages" in result:
        lines.append("Messages now: " + ", ".join(f"{status} {n:,}" for status, n in sorted(result["messages"].items())))
    return lines
