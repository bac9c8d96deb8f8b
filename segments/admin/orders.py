"""Order admin: a list of ten million orders that stays fast, and edits that keep customers current.

Searches are exact id lookups (index reads); the date drill-down is computed from the first and
last order date instead of Django's DISTINCT over every order.
"""

import datetime

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models
from django.db.models import Max, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from segcampaign.pagination import LargeTablePaginator
from segments import selectors, services
from segments.models import Customer, Order

from .display import moment_text, money
from .search import search_terms


class HasCouponFilter(admin.SimpleListFilter):
    title = "coupon"
    parameter_name = "has_coupon"

    def lookups(self, request, model_admin):
        return [("yes", "With a coupon"), ("no", "Without a coupon")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(coupon_code="")
        if self.value() == "no":
            return queryset.filter(coupon_code="")
        return queryset


class EdgeSafeSplitDateTime(AdminSplitDateTime):
    """The date and time fields of a moment, in the shop's time zone; a moment the zone cannot
    reach (0001-01-01 00:00 UTC is year 0 in London) as the first or last moment there is."""

    def decompress(self, value):
        try:
            return super().decompress(value)
        except OverflowError:
            edge = datetime.datetime.min if value.year == 1 else datetime.datetime.max
            return [edge.date(), edge.time()]


class OrderChangeList(ChangeList):
    """Django filters a drill-down year, month or day from its first instant to the next
    one's, in the shop's time zone. The year 9999 has no next year (nor its December a next
    month, nor its last day a next day), and 0001-01-01 00:00 UTC is still year 0 in a zone
    behind UTC: the first and the last of each are filtered with no start or no end."""

    def get_filters_params(self, params=None):
        lookup = super().get_filters_params(params)
        field = self.date_hierarchy
        parts = [lookup.get(f"{field}__{part}", [None])[-1] for part in ("year", "month", "day")]
        if not parts[0] or not all(part is None or part.isdigit() for part in parts):
            return lookup  # Django reads, and refuses, anything else
        chosen = tuple(int(part) for part in parts if part is not None)
        first, last = datetime.date.min, datetime.date.max
        at_start = chosen == (first.year, first.month, first.day)[: len(chosen)]
        at_end = chosen == (last.year, last.month, last.day)[: len(chosen)]
        if not (at_start or at_end):
            return lookup
        for part in ("year", "month", "day"):
            lookup.pop(f"{field}__{part}", None)
        if at_end:
            start = datetime.datetime(*chosen, *(1,) * (3 - len(chosen)))
            lookup[f"{field}__gte"] = [timezone.make_aware(start).isoformat()]
        else:
            ends = {1: datetime.datetime(2, 1, 1), 2: datetime.datetime(1, 2, 1), 3: datetime.datetime(1, 1, 2)}
            lookup[f"{field}__lt"] = [timezone.make_aware(ends[len(chosen)]).isoformat()]
        return lookup


def _date_drilldown(cl):
    """The date_hierarchy links, from the first and last order date only.

    Django's own drill-down runs SELECT DISTINCT date_trunc(...) over every matching order
    (4 s on ten million); MIN and MAX are two index reads. The price: a month or day without
    orders inside the range is still offered, and shows an empty list.
    """
    field = cl.date_hierarchy
    year, month, day = (cl.params.get(f"{field}__{part}") for part in ("year", "month", "day"))

    def link(filters):
        return cl.get_query_string(filters, [f"{field}__"])

    if year and month and day:
        chosen = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {"link": link({f"{field}__year": year, f"{field}__month": month}), "title": f"{chosen:%B %Y}"},
            "choices": [{"title": f"{chosen:%B} {chosen.day}"}],
        }
    orders = cl.queryset.order_by()
    span = orders.aggregate(first=Min(field), last=Max(field))
    if span["first"] is None:
        return {"show": False}
    first, last = _local_date(span["first"]), _local_date(span["last"])
    if year and month:
        days = (first + datetime.timedelta(days=n) for n in range((last - first).days + 1))
        choices = [
            {"link": link({f"{field}__year": year, f"{field}__month": month, f"{field}__day": d.day}),
             "title": f"{d:%B} {d.day}"}
            for d in days
        ]
        return {"show": True, "back": {"link": link({f"{field}__year": year}), "title": year}, "choices": choices}
    if year:
        choices = [
            {"link": link({f"{field}__year": year, f"{field}__month": m}),
             "title": datetime.date(int(year), m, 1).strftime("%B %Y")}
            for m in range(first.month, last.month + 1)
        ]
        return {"show": True, "back": {"link": link({}), "title": "All dates"}, "choices": choices}
    choices = [{"link": link({f"{field}__year": str(y)}), "title": str(y)} for y in _years(orders, field, first, last)]
    return {"show": True, "back": None, "choices": choices}


def _local_date(moment: datetime.datetime) -> datetime.date:
    """The moment's date in the shop's time zone. 0001-01-01 00:00 UTC is still year 0 in
    London (its offset then was -0:01:15), which Python has not: the first date there is."""
    try:
        return timezone.localtime(moment).date()
    except OverflowError:
        return datetime.date.min if moment.year == 1 else datetime.date.max


def _years(orders, field: str, first: datetime.date, last: datetime.date) -> list[int]:
    """The years from the first order's to the last's. An order dated outside the dates an
    import accepts (9999-12-31, a "no date" placeholder) would stretch that to thousands of
    years: its year is offered on its own, next to the years of the plausible orders (two
    more index reads, only then)."""
    earliest, latest = selectors.plausible_order_dates()
    if earliest <= first and last <= latest:
        return list(range(first.year, last.year + 1))
    window = {f"{field}__gte": _day_start(earliest)}
    if latest < datetime.date.max:
        window[f"{field}__lt"] = _day_start(latest + datetime.timedelta(days=1))
    inside = orders.filter(**window).aggregate(first=Min(field), last=Max(field))
    years = {first.year, last.year}
    if inside["first"] is not None:
        years.update(range(_local_date(inside["first"]).year, _local_date(inside["last"]).year + 1))
    return sorted(years)


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "external_id", "customer_link", "ordered_at_shown", "amount_shown", "quantity", "return_shown", "coupon_code"
    ]
    list_select_related = ["customer"]
    date_hierarchy = "ordered_at"
    list_filter = ["is_return", HasCouponFilter, ("ordered_at", admin.DateFieldListFilter)]
    search_fields = ["external_id", "customer__external_id"]
    search_help_text = "Order number or customer id (exact)."
    raw_id_fields = ["customer"]
    list_per_page = 50
    # Estimated counts and two-step pages: under a second on millions of rows (segcampaign.pagination).
    paginator = LargeTablePaginator
    show_full_result_count = False
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = {models.DateTimeField: {"widget": EdgeSafeSplitDateTime}}
    fieldsets = [
        (None, {"fields": ["external_id", "customer", "ordered_at"]}),
        ("Order", {"fields": [("amount", "quantity"), "is_return", "coupon_code"]}),
        ("Attributes", {"classes": ["collapse"], "fields": ["attributes"]}),
        ("Record", {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        """Exact ids only: both are unique columns, so a search is an index lookup, never a scan."""
        for term in search_terms(search_term):
            ids = {term, term.upper()}
            # Customers first, as ids: an OR across the join would make PostgreSQL scan every order.
            customers = list(Customer.objects.filter(external_id__in=ids).values_list("pk", flat=True))
            queryset = queryset.filter(Q(external_id__in=ids) | Q(customer_id__in=customers))
        return queryset, False

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["order_dates"] = _date_drilldown(context["cl"])
        return response

    # An order changed in admin changes its customer's stats (and those of the customer it was
    # moved away from): the next segmentation run looks at them again.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        moved_from = form.initial.get("customer") if change and "customer" in form.changed_data else None
        services.customers_mark_changed(customer_ids=[obj.customer_id, moved_from])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.customers_mark_changed(customer_ids=[obj.customer_id])

    def delete_queryset(self, request, queryset):
        customer_ids = list(queryset.order_by().values_list("customer_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        services.customers_mark_changed(customer_ids=customer_ids)

    def get_list_display(self, request):
        # The customer's name is customer data: without the view permission of customers, the
        # list shows their id alone.
        if self.admin_site.get_model_admin(Customer).has_view_or_change_permission(request):
            return self.list_display
        return ["customer_id_only" if name == "customer_link" else name for name in self.list_display]

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_id_only(self, order):
        return order.customer.external_id

    @admin.display(description="ordered at", ordering="ordered_at")
    def ordered_at_shown(self, order):
        return moment_text(order.ordered_at)

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, order):
        return money(order.amount)

    @admin.display(description="return", ordering="is_return", empty_value="")
    def return_shown(self, order):
        # Said of returns only: a column of "no" beside every purchase is noise.
        return "Return" if order.is_return else ""

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_link(self, order):
        customer = order.customer
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:segments_customer_change", args=[customer.pk]), str(customer)
        )
