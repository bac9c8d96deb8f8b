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
from segments.models import ConsentSource, Customer, Membership, Order

from .display import admin_url, moment, money
from .search import as_e164, search_terms

LATEST_ORDERS_SHOWN = 50
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
    fields = ["order_link", "ordered_at_shown", "amount", "quantity", "is_return", "coupon_code"]
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
        return moment(order.ordered_at)

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
            "attributes_table": "As imported; edit the raw JSON below if something is wrong.",
            "segment_now": "Where the latest segmentation run put this customer; the segment's page lists "
            "everyone in it.",
        }


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = [
        "external_id",
        "name",
        "email",
        "phone",
        "country",
        "email_consent",
        "sms_consent",
        "order_count",
        "total_spend",
        "last_order_at",
    ]
    list_display_links = ["external_id", "name"]
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
    ]
    fieldsets = [
        ("Identity", {"fields": ["external_id", ("first_name", "last_name"), "country", "time_zone", "locale"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        ("Segment", {"fields": ["segment_now"]}),
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
            "Attributes",
            {
                "description": "Extra columns from imported files. Segmentations can use the numeric ones.",
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

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
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

    @admin.display(description="name", ordering="last_name")
    def name(self, customer):
        return " ".join(part for part in (customer.first_name, customer.last_name) if part) or "-"

    @admin.display(description="orders")
    def order_count(self, customer):
        return customer.order_count

    @admin.display(description="net spend")
    def total_spend(self, customer):
        return money(customer.total_spend)

    @admin.display(description="last order")
    def last_order_at(self, customer):
        return moment(customer.last_order_at)

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
        return (moment(self._totals(customer)["first"]) or "-") if customer.pk else "-"

    @admin.display(description="last order")
    def totals_last_order(self, customer):
        return (moment(self._totals(customer)["last"]) or "-") if customer.pk else "-"

    @admin.display(description="all orders")
    def all_orders_link(self, customer):
        if not customer.pk:
            return "-"
        url = reverse("admin:segments_order_changelist") + f"?customer__id__exact={customer.pk}"
        return format_html('<a href="{}">All orders and returns of this customer</a>', url)

    @admin.display(description="segment now")
    def segment_now(self, customer):
        """The customer's current segment, linked to its page: how a marketer finds who a customer is."""
        membership = (
            Membership.objects.filter(customer_id=customer.pk, ended_run__isnull=True).select_related("segment").first()
            if customer.pk else None
        )
        if membership is None:
            return "In no segment yet: no segmentation run has placed this customer."
        url = admin_url("segments_segment_change", membership.segment_id)
        run_url = admin_url("segments_segmentationrun_change", membership.run_id)
        return format_html(
            '<a href="{}" id="customer-segment">{}</a> (since <a href="{}">run {}</a>)',
            url, membership.segment.name, run_url, membership.run_id,
        )

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
