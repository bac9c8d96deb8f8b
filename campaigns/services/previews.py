"""Previews and test sends of a message template, for the admin.

A preview renders the template for one customer exactly as a run would: a real customer, a
member of a chosen segment, or the built-in sample customer, with the offer of the rule that
sends it (the sample offer for a template on its own). A test send renders it the same way and
sends it through the configured email or SMS backend to an address the marketer types, marked
"[TEST]". A test message is not a campaign message: it has no outbox row, and its unsubscribe
link unsubscribes nobody.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from campaigns.channels import EmailChannel, OutgoingMessage, SendResult, get_sms_backend
from campaigns.models import Channel, MessageTemplate, Rule
from campaigns.rendering import (
    SAMPLE_CONTEXT,
    Problem,
    RenderedEmail,
    RenderedSms,
    RenderError,
    TemplateInvalid,
    compile_template,
    message_context,
)
from segments import selectors

from . import personal

TEST_MARK = "[TEST]"
# RFM scores rank a customer against the whole shop: the edges are read from every customer's
# order figures, a second or more on a big shop, so a preview reuses them for a while.
_EDGES_CACHE_KEY = "campaigns:preview:rfm_edges"
_EDGES_CACHE_SECONDS = 600


@dataclass(frozen=True)
class Recipient:
    """Who a preview is rendered for, and the data the template sees."""

    description: str
    context: dict
    customer_id: int | None = None
    segment_name: str = ""


@dataclass(frozen=True)
class Preview:
    recipient: Recipient
    rendered: RenderedEmail | RenderedSms | None
    problem: Problem | None = None  # why it did not render


def preview_recipient(
    *, customer_id: int | None = None, segment_id: int | None = None, rule: Rule | None = None,
    now: dt.datetime | None = None,
) -> Recipient:
    """The context a template sees for a customer (by id), else for a member of a segment,
    else for the built-in sample customer. LookupError when the customer does not exist."""
    now = now or timezone.now()
    offer = personal.offer_data(rule, now=now) if rule is not None else SAMPLE_CONTEXT["offer"]
    links = {"unsubscribe": f"{settings.SITE_URL}/u/test/"}
    shop = personal.shop_data()
    segment = selectors.segments_by_id([segment_id]).get(segment_id) if segment_id else None
    if customer_id is None and segment is not None:
        customer_id = selectors.segment_sample_member(segment.pk)
        if customer_id is None:
            context = message_context(customer=SAMPLE_CONTEXT["customer"], segment=personal.segment_data(segment),
                                      links=links, shop=shop, offer=offer)
            return Recipient(f"the sample customer (segment {segment.name} has no members now)", context,
                             segment_name=segment.name)
    if customer_id is None:
        context = message_context(customer=SAMPLE_CONTEXT["customer"], segment=SAMPLE_CONTEXT["segment"],
                                  links=links, shop=shop, offer=offer)
        return Recipient("the sample customer", context, segment_name=SAMPLE_CONTEXT["segment"].name)
    customer = selectors.customer_by_id(customer_id)
    if customer is None:
        raise LookupError(f"there is no customer with the id {customer_id}")
    if segment is None:
        in_segment = selectors.current_segment_ids([customer_id]).get(customer_id)
        segment = selectors.segments_by_id([in_segment]).get(in_segment) if in_segment else None
    frame = selectors.message_data_frame(customer_ids=np.array([customer_id], dtype=np.int64))
    data = personal.customers_data(frame, edges=_rfm_edges(), now=now)[customer_id]
    context = message_context(customer=data, segment=personal.segment_data(segment), links=links, shop=shop,
                              offer=offer)
    where = f", in {segment.name}" if segment else ", in no segment"
    return Recipient(f"{customer}{where}", context, customer_id=customer_id,
                     segment_name=segment.name if segment else "")


def _rfm_edges() -> dict:
    return cache.get_or_set(_EDGES_CACHE_KEY, selectors.rfm_score_edges, _EDGES_CACHE_SECONDS)


def template_render(*, template: MessageTemplate, context: dict) -> RenderedEmail | RenderedSms:
    """The template rendered for one context, as a run renders it (links not tracked).
    Raises TemplateInvalid or RenderError."""
    compiled = compile_template(
        template.channel, subject=template.subject, html=template.html, text=template.text, body=template.body,
        opt_out_text=settings.SMS_OPT_OUT_TEXT,
    )
    return compiled.render(context)


def template_preview(*, template: MessageTemplate, recipient: Recipient) -> Preview:
    try:
        return Preview(recipient, template_render(template=template, context=recipient.context))
    except TemplateInvalid as exc:
        return Preview(recipient, None, exc.problems[0])
    except RenderError as exc:
        return Preview(recipient, None, exc.problem)


def template_send_test(*, template: MessageTemplate, recipient: Recipient, to: str) -> SendResult:
    """Send the template as rendered for `recipient` to the address or number `to`, its
    subject (or SMS text) starting with [TEST]. Raises TemplateInvalid or RenderError."""
    rendered = template_render(template=template, context=recipient.context)
    message_id = f"test-template-{template.pk}"
    if template.channel == Channel.EMAIL:
        outgoing = OutgoingMessage.email(message_id=message_id, to=to, rendered=rendered)
        outgoing.subject = f"{TEST_MARK} {outgoing.subject}"
        return EmailChannel().send_messages([outgoing])[0]
    outgoing = OutgoingMessage.sms(message_id=message_id, to=to, rendered=rendered)
    outgoing.body = f"{TEST_MARK} {outgoing.body}"
    return get_sms_backend().send_messages([outgoing])[0]
