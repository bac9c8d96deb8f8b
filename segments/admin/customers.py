"""Customer admin, written for marketers and for shops with a million customers.

The list is one query for its page (no query per row) and searches only with lookups that an
index can serve where one exists: exact ids, exact or prefix emails, phone numbers normalised to
E.164 and compared exactly. A customer's page shows their totals and latest orders.
"""

import json

from django import forms
from django.contrib import admin
from django.core.cache import cache
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from segcampaign.pagination import LargeTablePaginator
from segments.models import ConsentSource, Customer, Order

from . import customer_segments
from .display import day, moment_text, money
from .search import as_e164, search_terms

LATEST_ORDERS_SHOWN = 50
SEGMENT_HISTORY_SHOWN = 20
_COUNTRY_CHOICES_SECONDS = 600


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        # DISTINCT over a million customers on every page view would be a full scan;
        # the set of countries changes only with imports, so a few minutes' cache is right.
        countries = cache.get_or_set(
            "segments:admin:countries",
            lambda: list(Customer.objects.exclude(country="").order_by().values_list("country", flat=True).distinct()),
            _COUNTRY_CHOICES_SECONDS,
        )
        return [(country, country) for country in sorted(countries)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


class HasOrdersFilter(admin.SimpleListFilter):
    title = "has orders"
    parameter_name = "has_orders"

    def lookups(self, request, model_admin):
        return [("yes", "Has ordered"), ("no", "Never ordered")]

    def queryset(self, request, queryset):
        ordered = Exists(Order.objects.filter(customer=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(ordered)
        if self.value() == "no":
            return queryset.filter(~ordered)
        return queryset


class LatestOrdersFormSet(BaseInlineFormSet):
    """Only the newest orders: a customer with thousands would make the page unusable."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset().order_by("-ordered_at", "-pk")[:LATEST_ORDERS_SHOWN]
        return self._queryset


class OrderInline(admin.TabularInline):
    model = Order
    formset = LatestOrdersFormSet
    fields = ["order_link", "ordered_at_shown", "amount_shown", "quantity", "return_shown", "coupon_code"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"Latest orders (newest first, at most {LATEST_ORDERS_SHOWN})"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="ordered at")
    def ordered_at_shown(self, order):
        return moment_text(order.ordered_at)

    @admin.display(description="amount")
    def amount_shown(self, order):
        return money(order.amount)

    @admin.display(description="return", empty_value="")
    def return_shown(self, order):
        # Said of returns only: a column of "no" beside every purchase is noise.
        return "Return" if order.is_return else ""

    @admin.display(description="order")
    def order_link(self, order):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:segments_order_change", args=[order.pk]), order.external_id
        )


def _order_subquery(aggregate, output_field):
    """One correlated subquery per customer row: with the (customer, ordered_at) index it costs
    a few index reads for the 50 customers on a page, where a JOIN + GROUP BY would aggregate
    every order of the shop before the page is cut."""
    return Subquery(
        Order.objects.filter(customer=OuterRef("pk"), is_return=False)
        .order_by()
        .values("customer")
        .annotate(value=aggregate)
        .values("value"),
        output_field=output_field,
    )


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = "__all__"
        # Admin takes read-only fields' help from the form's Meta: a method has no help_text of its own.
        help_texts = {
            "totals_orders": "Orders that are not returns.",
            "totals_returns": "Returned orders (their amounts are negative).",
            "totals_net_spend": "All order amounts added up, returns subtracted.",
            "totals_average_order_value": "Spend per order, returns left out.",
            "totals_first_order": "The first order that is not a return.",
            "totals_last_order": "The latest order that is not a return.",
            "attributes": "As imported, in JSON: correct a value here if it is wrong.",
        }


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    # The key columns fit a 1,400 px screen beside the menu and the filters: who (name, id and
    # email in one cell), consent, segment, orders, net spend, last order. Phone and country are
    # on the customer's page, and searched and filtered by.
    list_display = ["customer", "consent", "segment", "order_count", "total_spend", "last_order_at"]
    list_display_links = ["customer"]
    # Search is by the lookups in get_search_results; this list only turns the search box on.
    search_fields = ["external_id", "email", "phone", "first_name", "last_name"]
    search_help_text = (
        "Customer id (exact), email (whole address or its beginning), phone number in any usual format, "
        "or the beginning of a first or last name."
    )
    list_filter = [
        CountryFilter,
        "email_consent",
        "sms_consent",
        customer_segments.SegmentFilter,
        ("created_at", admin.DateFieldListFilter),
        HasOrdersFilter,
    ]
    list_per_page = 50
    # Estimated counts and two-step pages: under a second on millions of rows (segcampaign.pagination).
    paginator = LargeTablePaginator
    # The full count is a second COUNT(*) over the whole table on every page view.
    show_full_result_count = False
    inlines = [OrderInline]
    readonly_fields = [
        "created_at",
        "updated_at",
        "attributes_table",
        "totals_orders",
        "totals_returns",
        "totals_net_spend",
        "totals_average_order_value",
        "totals_first_order",
        "totals_last_order",
        "all_orders_link",
        "segment_now",
        "segment_history",
    ]
    fieldsets = [
        ("Identity", {"fields": ["external_id", ("first_name", "last_name"), "country", "time_zone", "locale"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        (
            "Consent",
            {
                "description": "Changing a consent here records the time and 'Admin' as its source.",
                "fields": [
                    ("email_consent", "email_consent_at", "email_consent_source"),
                    ("sms_consent", "sms_consent_at", "sms_consent_source"),
                ],
            },
        ),
        (
            "Segment",
            {
                "description": "Where the segmentation runs placed this customer, and where before.",
                "fields": ["segment_now", "segment_history"],
            },
        ),
        (
            "Attributes",
            {
                "description": "Extra columns from imported files. Segmentations can use the numeric ones.",
                # One of the two, never both (get_fieldsets): the JSON to those who may correct it.
                "fields": ["attributes_table", "attributes"],
            },
        ),
        (
            "Totals",
            {
                "description": "Computed from this customer's orders when the page was opened.",
                "fields": [
                    ("totals_orders", "totals_returns"),
                    ("totals_net_spend", "totals_average_order_value"),
                    ("totals_first_order", "totals_last_order"),
                    "all_orders_link",
                ],
            },
        ),
        ("Record", {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        # Attributes are shown once: as JSON to correct for those who may change the customer,
        # as a table for those who may only look.
        hidden = "attributes_table" if self.has_change_permission(request, obj) else "attributes"
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f != hidden]})
            for title, options in self.fieldsets
        ]

    def get_queryset(self, request):
        queryset = customer_segments.annotate_current_segment(super().get_queryset(request))
        return queryset.annotate(
            order_count=Coalesce(_order_subquery(Count("pk"), IntegerField()), Value(0)),
            total_spend=Subquery(
                Order.objects.filter(customer=OuterRef("pk"))
                .order_by()
                .values("customer")
                .annotate(value=Sum("amount"))
                .values("value"),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            last_order_at=_order_subquery(Max("ordered_at"), Order._meta.get_field("ordered_at")),
        )

    def get_search_results(self, request, queryset, search_term):
        """A phone number, or words that each match the id, the email (or its beginning) or a name's beginning.

        Ids are matched exactly and emails (stored lower-case) case-sensitively so that the unique
        external_id index, and email/phone indexes where the database has them, answer without
        scanning the table; only the name prefixes need a scan.
        """
        phone = as_e164(search_term)
        if phone:
            # Phone numbers are typed with spaces ("07911 123456"): match the whole input, not its words.
            return queryset.filter(Q(phone=phone) | Q(external_id=search_term.strip())), False
        for term in search_terms(search_term):
            match = Q(external_id=term) | Q(external_id=term.upper()) | Q(first_name__istartswith=term)
            match |= Q(last_name__istartswith=term)
            match |= Q(email__startswith=term.lower())
            queryset = queryset.filter(match)
        return queryset, False

    def save_model(self, request, obj, form, change):
        # A consent given or withdrawn by hand is still a consent record: when, and by which channel.
        now = timezone.now()
        for channel in ("email", "sms"):
            if f"{channel}_consent" in form.changed_data:
                setattr(obj, f"{channel}_consent_at", now)
                setattr(obj, f"{channel}_consent_source", ConsentSource.ADMIN)
        super().save_model(request, obj, form, change)

    # --- list columns ---
    # Orders, spend and last order are not sortable: sorting by them computes them for every
    # customer (over a minute on 1M customers / 10M orders), where the page needs only 50.

    @admin.display(description="customer", ordering="external_id")
    def customer(self, customer):
        name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
        details = " · ".join(part for part in (customer.external_id, customer.email) if part)
        return format_html(
            '<span class="customer-name">{}</span><span class="customer-details" title="{}">{}</span>',
            name or customer.external_id, details, details,
        )

    @admin.display(description="may we market by")
    def consent(self, customer):
        channels = [label for label, given in (("email", customer.email_consent), ("SMS", customer.sms_consent)) if given]
        return ", ".join(channels) or "neither"

    @admin.display(description="orders")
    def order_count(self, customer):
        return customer.order_count

    @admin.display(description="net spend")
    def total_spend(self, customer):
        return money(customer.total_spend)

    @admin.display(description="last order")
    def last_order_at(self, customer):
        return day(customer.last_order_at)

    @admin.display(description="segment")
    def segment(self, customer):
        return customer_segments.segment_cell(customer)

    # --- change page ---

    def _totals(self, customer):
        """All totals in one aggregate query, computed once per page."""
        if not hasattr(customer, "_admin_totals"):
            purchase = Q(is_return=False)
            customer._admin_totals = Order.objects.filter(customer=customer).aggregate(
                orders=Count("pk", filter=purchase),
                returns=Count("pk", filter=Q(is_return=True)),
                net=Sum("amount"),
                gross=Sum("amount", filter=purchase),
                first=Min("ordered_at", filter=purchase),
                last=Max("ordered_at", filter=purchase),
            )
        return customer._admin_totals

    @admin.display(description="orders")
    def totals_orders(self, customer):
        return self._totals(customer)["orders"] if customer.pk else "-"

    @admin.display(description="returns")
    def totals_returns(self, customer):
        return self._totals(customer)["returns"] if customer.pk else "-"

    @admin.display(description="net spend")
    def totals_net_spend(self, customer):
        return money(self._totals(customer)["net"]) if customer.pk else "-"

    @admin.display(description="average order value")
    def totals_average_order_value(self, customer):
        if not customer.pk:
            return "-"
        totals = self._totals(customer)
        return money(totals["gross"] / totals["orders"]) if totals["orders"] else "-"

    @admin.display(description="first order")
    def totals_first_order(self, customer):
        return moment_text(self._totals(customer)["first"]) if customer.pk else "-"

    @admin.display(description="last order")
    def totals_last_order(self, customer):
        return moment_text(self._totals(customer)["last"]) if customer.pk else "-"

    @admin.display(description="segment now")
    def segment_now(self, customer):
        return customer_segments.current_segment_block(customer) if customer.pk else "-"

    @admin.display(description="history")
    def segment_history(self, customer):
        return customer_segments.segment_history_table(customer, limit=SEGMENT_HISTORY_SHOWN) if customer.pk else "-"

    @admin.display(description="all orders")
    def all_orders_link(self, customer):
        if not customer.pk:
            return "-"
        url = reverse("admin:segments_order_changelist") + f"?customer__id__exact={customer.pk}"
        return format_html('<a href="{}">All orders and returns of this customer</a>', url)

    @admin.display(description="attributes")
    def attributes_table(self, customer):
        if not customer.attributes:
            return "None"
        if not isinstance(customer.attributes, dict):
            return format_html("<pre>{}</pre>", json.dumps(customer.attributes, indent=2, ensure_ascii=False))
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value)
             for key, value in sorted(customer.attributes.items())),
        )
        return format_html("<table>{}</table>", rows)
