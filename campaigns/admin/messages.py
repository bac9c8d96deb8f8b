"""Message admin: the outbox, read-only. Every message of every run, what it said and what
became of it.

The outbox holds a million rows per run: the list is one query per page (its run and campaign
joined), counts at most COUNT_CAP messages, filters by run through a short list of recent runs
(or any run by ?run=ID, as the run page links), and searches addresses by their beginning.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from campaigns.models import Campaign, CampaignRun, Message
from segcampaign.admin_records import RecordAdmin
from segments import selectors
from segments.admin.display import admin_url
from segments.admin.search import as_e164

from .display import html_frame, message_badge

RECENT_RUNS = 20
# Counting a run's million messages for the page numbers took a quarter of a second per page view
# on PostgreSQL, the whole outbox more with every run; past this many the list says "more than".
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts `cap` + 1 rows at most (a COUNT over a LIMIT), whatever the outbox holds."""

    def __init__(self, *args, cap: int = COUNT_CAP, **kwargs):
        super().__init__(*args, **kwargs)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()


def _short(moment) -> str:
    """"30 Nov, 07:00" in the shop's time zone: a list column stays narrow."""
    return formats.date_format(timezone.localtime(moment), "j M, H:i")


class RunFilter(admin.SimpleListFilter):
    title = "run"
    parameter_name = "run"

    def lookups(self, request, model_admin):
        recent = list(CampaignRun.objects.select_related("campaign").order_by("-pk")[:RECENT_RUNS])
        chosen = self.value()
        if chosen and chosen.isdigit() and all(str(run.pk) != chosen for run in recent):
            recent += list(CampaignRun.objects.select_related("campaign").filter(pk=int(chosen)))
        return [(str(run.pk), f"{run.campaign.name}, run {run.pk}") for run in recent]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(run_id=int(value)) if value and value.isdigit() else queryset


class CampaignFilter(admin.SimpleListFilter):
    title = "campaign"
    parameter_name = "campaign"

    def lookups(self, request, model_admin):
        return list(Campaign.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(run__campaign_id=int(value))
        return queryset


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    # The outbox is written by launches and workers only: a record, read-only here.
    list_display = ("id", "status_badge", "channel", "to", "run_link", "when")
    list_display_links = ("id", "status_badge")
    list_filter = ("status", "channel", CampaignFilter, RunFilter, "holdout")
    list_select_related = ("run__campaign",)
    search_fields = ("to",)
    search_help_text = "The beginning of an email address, or a phone number."
    ordering = ("-id",)
    show_full_result_count = False
    count_cap = COUNT_CAP  # read by the list's templates too
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice would scan the outbox on every page
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("status_badge", "channel", "to", "customer_link", "run_link", "holdout")}),
        ("Sending", {"fields": ("send_after", "attempts", "claimed_at", "sent_at", "provider_id", "error")}),
        ("What it said", {"fields": ("content",)}),
    )
    readonly_fields = ("status_badge", "customer_link", "run_link", "content")

    @admin.display(description="status", ordering="status")
    def status_badge(self, message: Message):
        return message_badge(message)

    @admin.display(description="campaign, run", ordering="run")
    def run_link(self, message: Message):
        label = f"{message.run.campaign.name} · {message.run_id}"
        url = admin_url("campaigns_campaignrun_change", message.run_id)
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description="when", ordering="send_after")
    def when(self, message: Message) -> str:
        if message.sent_at:
            return format_html('<span class="nowrap">sent {}</span>', _short(message.sent_at))
        if message.status in (Message.Status.PENDING, Message.Status.CLAIMED):
            return format_html('<span class="nowrap">from {}</span>', _short(message.send_after))
        return "–"

    @admin.display(description="customer")
    def customer_link(self, message: Message):
        customer = selectors.customer_by_id(message.customer_id)
        label = str(customer) if customer else f"customer {message.customer_id} (deleted)"
        url = admin_url("segments_customer_change", message.customer_id) if customer else None
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description="content")
    def content(self, message: Message):
        if message.status in (Message.Status.PENDING, Message.Status.CLAIMED, Message.Status.HOLDOUT,
                              Message.Status.CANCELLED) and not (message.body or message.html or message.text):
            return "Not written yet: a message is rendered right before it is sent (a held-out one never is)."
        if message.channel == "sms":
            return format_html('<pre class="segcampaign-message">{}</pre>', message.body)
        parts = [format_html("<p><strong>Subject:</strong> {}</p>", message.subject)]
        if message.html:
            parts.append(html_frame(message.html))
        parts.append(format_html('<details><summary>Text part</summary><pre class="segcampaign-message">{}</pre>'
                                 "</details>", message.text))
        if message.links:
            items = format_html_join("", "<li>{}</li>", ((url,) for url in message.links))
            parts.append(format_html("<details><summary>Tracked links</summary><ol>{}</ol></details>", items))
        return format_html_join("", "{}", ((part,) for part in parts))

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return CappedPaginator(queryset, per_page, orphans, allow_empty_first_page, cap=self.count_cap)

    def get_search_results(self, request, queryset, search_term):
        """An address by its beginning (emails are lower-cased), a phone number exactly in E.164."""
        term = search_term.strip()
        if not term:
            return queryset, False
        phone = as_e164(term)
        if phone:
            return queryset.filter(to=phone), False
        return queryset.filter(to__startswith=term.lower()), False
