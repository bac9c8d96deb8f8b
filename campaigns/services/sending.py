"""Sending one batch of a run's outbox: claim, render, mark sending, call the provider, record.

A message is sent at most once: a worker claims a batch atomically (outbox.messages_claim),
renders each message from templates compiled once per process, moves a slice of them to
`sending` with a conditional UPDATE right before calling the provider (what a crash leaves
there becomes `unknown`, never resent blindly), and records what the provider said. A
permanent error fails the message and suppresses the address; a temporary one puts the
message back with a later send_after (exponential back-off) until MESSAGE_MAX_ATTEMPTS.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from campaigns import links
from campaigns.channels import ChannelError, Code, EmailChannel, OutgoingMessage, SendResult, get_sms_backend
from campaigns.models import Campaign, CampaignRun, Message, MessageTemplate, Rule, Suppression, Variant
from campaigns.ratelimit import limiter_for
from campaigns.rendering import CustomerData, RenderError, SegmentData, compile_template, message_context
from segcampaign.rowupdates import update_rows
from segments import selectors

from . import outbox, personal

logger = logging.getLogger(__name__)
Status = Message.Status

# How a permanent error's code suppresses the address.
SUPPRESSION_REASONS = {
    Code.INVALID_RECIPIENT: Suppression.Reason.INVALID,
    Code.REJECTED_RECIPIENT: Suppression.Reason.BOUNCED,
    Code.UNSUBSCRIBED: Suppression.Reason.STOP,
    Code.NOT_MOBILE: Suppression.Reason.NOT_MOBILE,
}
_BACKOFF_SECONDS = 60
_BACKOFF_CAP_SECONDS = 3600  # below the broker's visibility timeout, as every delay must be


@dataclass
class BatchOutcome:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    lost_claim: int = 0  # taken over by another worker after a timeout
    paused: bool = False


# Compiled templates of this process, by (template id, last change): compiled once per run
# (per worker process), never per recipient.
_compiled: dict[tuple[int, dt.datetime], object] = {}


def compiled_template(template: MessageTemplate):
    key = (template.pk, template.updated_at)
    compiled = _compiled.get(key)
    if compiled is None:
        if len(_compiled) > 256:
            _compiled.clear()
        compiled = _compiled[key] = compile_template(
            template.channel, subject=template.subject, html=template.html, text=template.text, body=template.body,
            opt_out_text=settings.SMS_OPT_OUT_TEXT,
        )
    return compiled


def run_batch_send(*, run_id: int, email_channel: EmailChannel | None = None, sms_backend=None) -> BatchOutcome:
    """Claim and send one batch (CAMPAIGN_BATCH_SIZE) of a run's due messages."""
    run = CampaignRun.objects.select_related("campaign").get(pk=run_id)
    if run.campaign.status == Campaign.Status.PAUSED:
        return BatchOutcome(paused=True)
    ids, claimed_at = outbox.messages_claim(run_id=run_id, limit=settings.CAMPAIGN_BATCH_SIZE)
    outcome = BatchOutcome(claimed=len(ids))
    if not ids:
        return outcome
    messages = list(Message.objects.filter(pk__in=ids).order_by("id"))
    now = timezone.now()
    rendered = _render(messages, run, now)
    for channel in ("email", "sms"):
        batch = [(m, r) for m, r in rendered if m.channel == channel]
        if not batch:
            continue
        refusal = _refusal(channel, sms_backend)
        if refusal:
            failed = Message.objects.filter(pk__in=[m.pk for m, _ in batch], status=Status.CLAIMED).update(
                status=Status.FAILED, error=refusal
            )
            outcome.failed += failed
            continue
        if channel == "email" and email_channel is None:
            # Its threads and kept-alive connections serve every slice of the batch, then close.
            with EmailChannel(concurrency=settings.CAMPAIGN_SEND_CONCURRENCY) as sender:
                _send(batch, channel, sender, claimed_at, outcome)
        else:
            _send(batch, channel, _sender(channel, email_channel, sms_backend), claimed_at, outcome)
    return outcome


def _refusal(channel: str, sms_backend) -> str:
    """Why this channel must not send at all, or ''."""
    if channel == "sms" and sms_backend is None and settings.SMS_BACKEND == "twilio" and selectors.holds_sample_shop():
        # The sample shop's numbers are real mobile ranges: never text them for real.
        return (
            "refused: this database holds the generated sample shop (customers at example.com), whose phone "
            "numbers are real mobile ranges, so no SMS goes through Twilio; use SMS_BACKEND=console or file, or a "
            "database with your own customers"
        )
    return ""


def _sender(channel: str, email_channel, sms_backend):
    if channel == "email":
        return email_channel
    return sms_backend or get_sms_backend(status_callback=links.sms_status_callback_url())


def _render(messages: list[Message], run: CampaignRun, now: dt.datetime) -> list[tuple[Message, object]]:
    """Each message with its rendering; a message whose template fails to render fails alone."""
    variants = Variant.objects.select_related("template").in_bulk({m.variant_id for m in messages})
    rules = Rule.objects.in_bulk({m.rule_id for m in messages})
    segments = selectors.segments_by_id({m.segment_id for m in messages})
    customers = personal.customers_data(
        selectors.message_data_frame(customer_ids=[m.customer_id for m in messages]),
        edges=run.plan.get("rfm_edges", {}), now=now,
    )
    shop = personal.shop_data()
    segment_data = {pk: personal.segment_data(segment) for pk, segment in segments.items()}
    offers = {pk: personal.offer_data(rule, now=now) for pk, rule in rules.items()}
    done = []
    for message in messages:
        variant = variants.get(message.variant_id)
        try:
            if variant is None:
                raise RenderError("the rule's template variant was deleted after the run was planned")
            context = message_context(
                customer=customers.get(message.customer_id) or CustomerData(),
                segment=segment_data.get(message.segment_id) or SegmentData(),
                links={"unsubscribe": links.unsubscribe_url(message.pk)},
                shop=shop,
                offer=offers.get(message.rule_id),
            )
            result = compiled_template(variant.template).render(context, track=links.tracker(message.pk))
        except RenderError as exc:
            Message.objects.filter(pk=message.pk, status=Status.CLAIMED).update(
                status=Status.FAILED, error=f"template error: {exc}"
            )
            continue
        done.append((message, result))
    return done


def _send(batch, channel: str, sender, claimed_at: dt.datetime, outcome: BatchOutcome) -> None:
    limiter = limiter_for(channel)
    # Slices small enough that the rate limit paces them, and that a crash leaves few unknown.
    size = max(1, min(settings.CAMPAIGN_SEND_CONCURRENCY * 4, int(limiter.rate) or len(batch)))
    for start in range(0, len(batch), size):
        part = batch[start : start + size]
        limiter.acquire(len(part))
        by_id = {message.pk: (message, result) for message, result in part}
        for message, result in part:
            _fill(message, result)
        # The rendered content is on the row before the provider is called (same statement).
        content = {pk: tuple(getattr(message, name) for name in outbox.CONTENT) for pk, (message, _) in by_id.items()}
        ours = outbox.messages_start_sending(ids=list(by_id), claimed_at=claimed_at, content=content)
        outcome.lost_claim += len(by_id) - len(ours)
        outgoing = [_outgoing(*by_id[pk]) for pk in ours]
        results = sender.send_messages(outgoing) if outgoing else []
        _record([by_id[int(r.message_id)][0] for r in results], results, outcome)


def _fill(message: Message, result) -> None:
    message.links = list(result.links)
    if message.channel == "email":
        message.subject, message.html, message.text = result.subject, result.html, result.text
    else:
        message.body = result.body


def _outgoing(message: Message, result) -> OutgoingMessage:
    if message.channel == "email":
        return OutgoingMessage.email(message_id=str(message.pk), to=message.to, rendered=result)
    return OutgoingMessage.sms(message_id=str(message.pk), to=message.to, rendered=result)


def _record(messages: list[Message], results: list[SendResult], outcome: BatchOutcome) -> None:
    now = timezone.now()
    changed, suppressions = [], []
    for message, result in zip(messages, results):
        if result.ok:
            message.status, message.provider_id, message.sent_at, message.error = (
                Status.SENT, result.provider_id or "", now, "")
            outcome.sent += 1
        elif _retry(message, result.error):
            delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_SECONDS * 2**message.attempts)
            message.status, message.claimed_at = Status.PENDING, None
            message.send_after, message.error = now + dt.timedelta(seconds=delay), _describe(result.error)
            outcome.retried += 1
        else:
            message.status, message.error = Status.FAILED, _describe(result.error)
            outcome.failed += 1
            reason = SUPPRESSION_REASONS.get(result.error.code)
            if result.error.permanent and reason:
                suppressions.append(Suppression(channel=message.channel, address=message.to, reason=reason,
                                                detail=result.error.message[:500]))
        changed.append(message)
    columns = ["status", "provider_id", "sent_at", "error", "send_after", "claimed_at"]
    update_rows(Message, columns, [(m.pk, *(getattr(m, name) for name in columns)) for m in changed])
    if suppressions:
        Suppression.objects.bulk_create(suppressions, ignore_conflicts=True)


def _retry(message: Message, error: ChannelError) -> bool:
    # `attempts` on the instance is from before this one (the UPDATE to `sending` counted it).
    return not error.permanent and message.attempts + 1 < settings.MESSAGE_MAX_ATTEMPTS


def _describe(error: ChannelError) -> str:
    kind = "permanent" if error.permanent else "temporary"
    return f"{kind} error ({error.code or 'failed'}): {error.message}"[:2000]
