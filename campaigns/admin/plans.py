"""A plan's counts as a marketer reads them: sentences, tables and bars.

The same summary (services.plan_summary: counts per segment, rule, template and skip reason)
is shown by the audience preview of a campaign (a dry run) and by each run's page.
"""

from __future__ import annotations

from campaigns.models import Channel
from campaigns.planning import SKIP_LABELS, SKIP_REASONS
from segments.admin.display import number

# Column headings of the per-segment table; the full reasons are in the table of skips.
SKIP_HEADINGS = {
    "no_address": "no address",
    "no_consent": "no consent",
    "unsubscribed": "unsubscribed or bounced",
    "frequency_cap": "frequency cap",
}
CHANNEL_WORDS = {Channel.EMAIL: ("email", "emails"), Channel.SMS: ("SMS", "SMS")}


def plural(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n == 1 else many}"


def headline(summary: dict, *, launched: bool) -> list[str]:
    """The plan in three or four sentences."""
    messages, holdout = summary.get("messages", 0), summary.get("holdout", 0)
    skipped = sum(summary.get("skipped", {}).values())
    by_channel = summary.get("by_channel", {})
    channels = ", ".join(plural(n, *CHANNEL_WORDS.get(ch, (ch, ch))) for ch, n in by_channel.items())
    verb = "were planned" if launched else "would be sent"
    lines = [
        f"{plural(summary.get('customers_matched', 0), 'customer matches', 'customers match')} the rules "
        f"(members of the rules' segments who pass their conditions).",
        f"{plural(messages, 'message', 'messages')} {verb}" + (f": {channels}." if channels else "."),
    ]
    if holdout:
        lines.append(
            f"{plural(holdout, 'customer is', 'customers are')} held out at random and get nothing, so that what the "
            "campaign changes can be measured against them."
        )
    if skipped:
        lines.append(f"{plural(skipped, 'message is', 'messages are')} skipped; the table below says why.")
    deferred = summary.get("deferred_by_quiet_hours", 0)
    if deferred:
        lines.append(f"{plural(deferred, 'message waits', 'messages wait')} for the end of the quiet hours where "
                     "the customer lives.")
    return lines


def segment_rows(summary: dict) -> list[dict]:
    """One row per segment: matched, to send, held out, skipped by reason, and a stacked bar."""
    rows = []
    for name, counts in summary.get("by_segment", {}).items():
        skipped = counts.get("skipped", {})
        rows.append({
            "name": name,
            "matched": counts.get("matched", 0),
            "messages": counts.get("messages", 0),
            "holdout": counts.get("holdout", 0),
            "skipped": [skipped.get(reason, 0) for reason in SKIP_REASONS],
            "skipped_total": sum(skipped.values()),
        })
    widest = max((r["messages"] + r["holdout"] + r["skipped_total"] for r in rows), default=0) or 1
    for row in rows:
        # Widths as CSS writes them, whatever the locale's decimal mark.
        row["bar"] = [
            (kind, f"{100 * row[key] / widest:.1f}")
            for kind, key in (("messages", "messages"), ("holdout", "holdout"), ("skipped", "skipped_total"))
        ]
        for key in ("matched", "messages", "holdout", "skipped_total"):
            row[f"{key}_display"] = number(row[key])
        row["skipped_display"] = [number(n) for n in row["skipped"]]
    return sorted(rows, key=lambda r: -r["matched"])


def context(summary: dict, *, launched: bool, rule_labels: dict[str, str] | None = None,
            variant_rows: list[tuple[str, int]] | None = None) -> dict:
    """What templates/admin/campaigns/includes/plan.html shows. `rule_labels` says what each
    "rule N" is; `variant_rows` replaces the counts per template name (when they are known
    per rule and variant)."""
    rule_labels = rule_labels or {}
    variants = variant_rows if variant_rows is not None else list(summary.get("by_variant", {}).items())
    return {
        "headline": headline(summary, launched=launched),
        "segments": segment_rows(summary),
        "skip_columns": [SKIP_HEADINGS.get(reason, SKIP_LABELS[reason]) for reason in SKIP_REASONS],
        "rules": [(rule_labels.get(rule, rule), number(n)) for rule, n in summary.get("by_rule", {}).items()],
        "variants": [(label, number(n)) for label, n in variants],
        "skipped": [(SKIP_LABELS[r], number(summary.get("skipped", {}).get(r, 0))) for r in SKIP_REASONS],
    }
