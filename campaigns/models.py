"""Campaigns: message templates, campaigns and their rules, runs, and the outbox of messages.

A campaign holds rules ("these segments get this template on this channel with this offer");
each launch is a CampaignRun, which plans every recipient and writes one Message row per
planned (customer, channel) to the outbox before any provider is called. Workers then claim
messages in batches and send them; a message is sent at most once.

The outbox is written and read in bulk (a million rows per run): its references to customers,
segments, rules and variants carry no database-level foreign key (as segments' Membership): a
key check locks the referenced row, and a million of them cost most of a minute. Rows are
written only from ids just read, and deleting a customer through Django still cascades.
"""

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from segcampaign.jobs import Job
from segments.models import Customer, Segment, SegmentationRun


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageTemplate(models.Model):
    """A Jinja template a marketer writes: subject, HTML and text for email, a body for SMS.

    Templates are untrusted code: they render in a sandbox (campaigns.rendering) and are
    checked when saved.
    """

    name = models.SlugField(max_length=64, unique=True, help_text="How rules and campaign files refer to it.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=255, blank=True, default="", help_text="Email only.")
    html = models.TextField("HTML body", blank=True, default="", help_text="Email only.")
    text = models.TextField(
        "text body", blank=True, default="", help_text="Email only; left empty, it is made from the HTML."
    )
    body = models.TextField(blank=True, default="", help_text="SMS only. The opt-out text is added when missing.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_channel_display()})"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"

    class Goal(models.TextChoices):
        ANY_ORDER = "any_order", "Any order"
        COUPON = "coupon", "An order with the coupon"
        MIN_AMOUNT = "min_amount", "An order of at least an amount"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    holdout_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(50)],
        help_text="Share of each segment's recipients who get nothing, chosen at random, to measure what the "
        "campaign changed.",
    )
    attribution_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="An order within this many days of a message counts as its conversion.",
    )
    goal_kind = models.CharField(max_length=16, choices=Goal.choices, default=Goal.ANY_ORDER)
    goal_code = models.CharField(max_length=64, blank=True, default="", help_text="For the coupon goal.")
    goal_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                      help_text="For the minimum-amount goal.")
    quiet_start = models.TimeField(
        null=True, blank=True, default=dt.time(21, 0),
        help_text="No message is sent between these hours in the customer's time zone; they wait for the "
        "morning. Empty: no quiet hours.",
    )
    quiet_end = models.TimeField(null=True, blank=True, default=dt.time(8, 0))
    frequency_cap_messages = models.PositiveSmallIntegerField(
        null=True, blank=True, default=2,
        help_text="At most this many messages per customer in the window below, across all campaigns and "
        "channels. Empty: no cap.",
    )
    frequency_cap_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    schedule_at = models.DateTimeField(null=True, blank=True, help_text="Run once at this time.")
    schedule_cron = models.CharField(
        max_length=100, blank=True, default="",
        help_text="Or run repeatedly: minute hour day-of-month month day-of-week, in the shop's time zone "
        "(e.g. '0 9 * * 1' is every Monday at 9:00).",
    )
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Rule(models.Model):
    """Which customers get which template on which channel, with which offer.

    Customers of the rule's segments that pass every condition match; a customer gets at most
    one message per campaign run and channel: from the first matching rule by priority.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rules")
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 is tried first.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    segments = models.ManyToManyField(Segment, related_name="+", help_text="The segments this rule speaks to.")
    conditions = models.JSONField(
        default=list, blank=True,
        help_text='Extra tests on the customer, all of which must hold: [{"field": "monetary", "op": ">=", '
        '"value": 100}, {"field": "country", "op": "in", "value": ["GB", "IE"]}].',
    )
    offer_code = models.CharField(max_length=64, blank=True, default="")
    offer_discount = models.CharField(max_length=32, blank=True, default="", help_text='As shown: "15%", "£5".')
    offer_expires_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The offer ends this many days after the message is sent."
    )

    class Meta:
        ordering = ["campaign", "priority", "id"]

    def __str__(self):
        return f"{self.campaign} rule {self.priority} ({self.get_channel_display()})"


class Variant(models.Model):
    """One of a rule's templates; recipients are spread over the variants by weight."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="variants")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="variants")
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["rule", "id"]

    def __str__(self):
        return f"{self.template.name} (weight {self.weight})"


class CampaignRun(Job):
    """One launch of a campaign: who was planned, who was skipped and why, and its progress."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="runs")
    triggered_by = models.CharField(max_length=32, blank=True, default="")
    segmentation_run = models.ForeignKey(
        SegmentationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The segmentation whose membership was read.",
    )
    plan = models.JSONField(
        default=dict, blank=True,
        help_text="Counts per segment, rule and variant, and every skip reason with its count.",
    )
    messages_planned = models.IntegerField(default=0, help_text="Outbox rows written (holdout rows included).")
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage of the launch.")

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.campaign} run {self.pk}"


class Message(models.Model):
    """One message to one customer on one channel in one campaign run: the outbox row.

    Written when the run is launched, before any provider is called; rendered and sent by a
    worker that claimed it. Its status only moves forward, so a message is sent at most once:
    pending -> claimed (a worker has it) -> sending (the provider is being called) -> sent or
    failed; a message left `sending` by a crash becomes `unknown`, for a person to look at,
    never resent blindly. Holdout rows are never sent: they measure what the campaign changed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        CLAIMED = "claimed", "Claimed by a worker"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (the worker stopped while sending)"
        HOLDOUT = "holdout", "Held out (not sent)"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="messages", db_constraint=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    segment = models.ForeignKey(
        Segment, null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    # A rule or variant deleted later keeps its id here (no cascade over a million rows): the
    # history still says which rule and template each message came from.
    rule = models.ForeignKey(
        Rule, null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    variant = models.ForeignKey(
        Variant, null=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    holdout = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    to = models.CharField(max_length=254, help_text="The address or number, as it was when the run was planned.")
    send_after = models.DateTimeField(help_text="Not before this instant (quiet hours, or a retry's back-off).")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The rendered content, stored before the provider is called.
    subject = models.CharField(max_length=255, blank=True, default="")
    html = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    body = models.TextField(blank=True, default="")
    links = models.JSONField(default=list, blank=True, help_text="The tracked URLs, by link number.")
    provider_id = models.CharField(max_length=128, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "customer", "channel"], name="one_message_per_run_customer_channel"),
        ]
        indexes = [
            # Claiming: a run's messages that are due, in order.
            models.Index(
                fields=["run", "send_after"], name="message_due", condition=Q(status__in=["pending", "claimed"])
            ),
            # The frequency cap: recent messages (an index-only range scan of the window).
            models.Index(fields=["created_at", "customer"], name="message_recent"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.to} ({self.get_status_display()})"


class Suppression(models.Model):
    """An address that must not be messaged on a channel again: unsubscribed, STOP, hard bounce."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        STOP = "stop", "Replied STOP"
        BOUNCED = "bounced", "Hard bounce"
        INVALID = "invalid", "Not a valid address or number"
        COMPLAINED = "complained", "Marked as spam"
        NOT_MOBILE = "not_mobile", "Cannot receive SMS"

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="one_suppression_per_address")]

    def __str__(self):
        return f"{self.address} ({self.get_reason_display()})"
