"""Customer admin: a list a marketer can read, searches that find people, bounded queries, the customer page."""

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from segments.admin.customers import LATEST_ORDERS_SHOWN
from segments.models import ConsentSource, Customer, Order

from .conftest import UTC, make_customer, make_order

pytestmark = pytest.mark.django_db

CUSTOMERS_URL = reverse("admin:segments_customer_changelist")


def listed(response):
    return {customer.external_id: customer for customer in response.context["cl"].result_list}


# --- customer list ---------------------------------------------------------------------


def test_the_customer_list_shows_orders_net_spend_and_last_order(admin_client, shop):
    response = admin_client.get(CUSTOMERS_URL)

    assert response.status_code == 200
    rows = listed(response)
    assert rows["C000001"].order_count == 2  # the return is not an order
    assert rows["C000001"].total_spend == Decimal("80.00")  # 40 + 60 - 20
    assert rows["C000001"].last_order_at == datetime.datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert rows["C000003"].order_count == 0
    assert rows["C000003"].total_spend is None
    assert "Emma Smith" in response.text
    assert "80.00" in response.text


def test_the_customer_list_costs_the_same_queries_for_many_customers(admin_client, shop):
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CUSTOMERS_URL)
    for i in range(40):
        customer = make_customer(f"X{i:03d}", first_name="Many", country="Spain")
        make_order(customer, f"XO{i:03d}", i, "10.00")
        make_order(customer, f"XR{i:03d}", i + 1, "-10.00", is_return=True)

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(CUSTOMERS_URL)

    assert len(listed(response)) == 43
    assert len(many) <= len(few) + 1  # the country choices were cached by the first request


def test_the_customer_list_stays_within_a_fixed_number_of_queries(admin_client, shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        admin_client.get(CUSTOMERS_URL)


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("emma.smith@example.com", {"C000001"}),
        ("EMMA.SMITH@EXAMPLE.COM", {"C000001"}),
        ("lukas@", {"C000002"}),
        ("07911 123456", {"C000001"}),  # a national number, in the default region (GB)
        ("+49 151 1234 5678", {"C000002"}),
        ("C000003", {"C000003"}),
        ("c000002", {"C000002"}),
        ("smi", {"C000001"}),
        ("Zoë", {"C000003"}),
        ("Lukas Mü", {"C000002"}),
        ("nobody-like-this", set()),
        ("+44 7911 000000", set()),
    ],
)
def test_search_finds_customers_by_email_phone_id_and_name(admin_client, shop, term, found):
    response = admin_client.get(CUSTOMERS_URL, {"q": term})

    assert set(listed(response)) == found


def test_search_does_not_match_ids_by_substring(admin_client, shop):
    response = admin_client.get(CUSTOMERS_URL, {"q": "00000"})

    assert listed(response) == {}


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"country": "Germany"}, {"C000002"}),
        ({"email_consent__exact": "1"}, {"C000001"}),
        ({"sms_consent__exact": "1"}, {"C000002"}),
        ({"has_orders": "yes"}, {"C000001", "C000002"}),
        ({"has_orders": "no"}, {"C000003"}),
    ],
)
def test_filters_narrow_the_customer_list(admin_client, shop, params, found):
    response = admin_client.get(CUSTOMERS_URL, params)

    assert response.status_code == 200
    assert set(listed(response)) == found


def test_the_country_filter_offers_the_shops_countries(admin_client, shop):
    response = admin_client.get(CUSTOMERS_URL)

    choices = [choice["display"] for spec in response.context["cl"].filter_specs
               if getattr(spec, "parameter_name", None) == "country" for choice in spec.choices(response.context["cl"])]
    assert choices == ["All", "Germany", "Netherlands", "United Kingdom"]


def test_the_created_date_filter_works(admin_client, shop):
    Customer.objects.filter(pk=shop.nobody.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))

    # The filter's own "Past 7 days" link: an aware midnight, as DateFieldListFilter writes it.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    response = admin_client.get(CUSTOMERS_URL, {"created_at__gte": str(midnight - datetime.timedelta(days=6))})

    assert set(listed(response)) == {"C000001", "C000002"}


# --- customer page ---------------------------------------------------------------------


def test_the_customer_page_shows_totals_orders_and_attributes(admin_client, shop):
    response = admin_client.get(reverse("admin:segments_customer_change", args=[shop.emma.pk]))

    assert response.status_code == 200
    text = response.text
    for expected in ("Identity", "Contact", "Consent", "Attributes", "Totals"):
        assert expected in text
    assert "Orders that are not returns." in text  # totals explain themselves
    inline = response.context["inline_admin_formsets"][0]
    assert [form.original.external_id for form in inline] == ["O3", "O2", "O1"]  # newest first
    assert "<th>complains</th><td>2</td>" in text
    assert f"?customer__id__exact={shop.emma.pk}" in text


def test_the_customer_page_hides_the_orders_from_staff_who_may_not_view_orders(staff_with, shop):
    page = staff_with("view_customer").get(reverse("admin:segments_customer_change", args=[shop.emma.pk]))

    assert page.status_code == 200
    assert "Emma" in page.text
    assert page.context["inline_admin_formsets"] == []
    assert "Latest orders" not in page.text and "SAVE10" not in page.text


def test_the_customer_page_shows_the_orders_to_staff_who_may_view_orders(staff_with, shop):
    page = staff_with("view_customer", "view_order").get(reverse("admin:segments_customer_change", args=[shop.emma.pk]))

    inline = page.context["inline_admin_formsets"][0]
    assert [form.original.external_id for form in inline] == ["O3", "O2", "O1"]
    assert "SAVE10" in page.text


def test_the_customer_pages_are_refused_to_staff_without_the_view_permission_of_customers(staff_with, shop):
    staff = staff_with("view_order", "view_segment")

    assert staff.get(reverse("admin:segments_customer_change", args=[shop.emma.pk])).status_code == 403
    assert staff.get(CUSTOMERS_URL).status_code == 403


def test_the_customer_totals_are_right(admin_client, shop):
    customer_admin = admin.site._registry[Customer]
    emma = Customer.objects.get(pk=shop.emma.pk)

    assert customer_admin.totals_orders(emma) == 2
    assert customer_admin.totals_returns(emma) == 1
    assert customer_admin.totals_net_spend(emma) == "£80.00"  # display.money: the shop's currency
    assert customer_admin.totals_average_order_value(emma) == "£50.00"
    assert customer_admin.totals_first_order(emma) == datetime.datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert customer_admin.totals_last_order(emma) == datetime.datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert customer_admin.totals_average_order_value(Customer.objects.get(pk=shop.nobody.pk)) == "-"


def test_the_customer_page_shows_only_the_latest_orders_with_bounded_queries(
    admin_client, shop, django_assert_max_num_queries
):
    url = reverse("admin:segments_customer_change", args=[shop.emma.pk])
    with CaptureQueriesContext(connection) as few_orders:
        admin_client.get(url)
    Order.objects.bulk_create(
        Order(
            customer=shop.emma,
            external_id=f"B{i:03d}",
            ordered_at=datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(hours=i),
            amount=Decimal("1.00"),
        )
        for i in range(LATEST_ORDERS_SHOWN + 10)
    )

    with django_assert_max_num_queries(len(few_orders)):
        response = admin_client.get(url)

    shown = [form.original.external_id for form in response.context["inline_admin_formsets"][0]]
    assert len(shown) == LATEST_ORDERS_SHOWN
    assert shown[:3] == ["O3", "O2", "O1"]
    assert "B000" not in shown  # the oldest order is left out


def test_changing_a_consent_in_admin_records_when_and_that_it_was_admin(admin_client, shop):
    url = reverse("admin:segments_customer_change", args=[shop.lukas.pk])
    data = {
        "external_id": "C000002", "first_name": "Lukas", "last_name": "Müller", "country": "Germany",
        "time_zone": "", "locale": "", "email": "lukas@example.org", "phone": "+4915112345678",
        "email_consent": "on", "email_consent_at_0": "", "email_consent_at_1": "", "email_consent_source": "",
        "sms_consent": "on", "sms_consent_at_0": "", "sms_consent_at_1": "", "sms_consent_source": "",
        "attributes": "{}",
        "orders-TOTAL_FORMS": "1", "orders-INITIAL_FORMS": "1", "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "0", "orders-0-id": str(Order.objects.get(external_id="O4").pk),
        "orders-0-customer": str(shop.lukas.pk),
    }
    before = timezone.now()

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    lukas = Customer.objects.get(pk=shop.lukas.pk)
    assert lukas.email_consent is True
    assert lukas.email_consent_source == ConsentSource.ADMIN
    assert lukas.email_consent_at >= before
    assert lukas.sms_consent_source == ""  # unchanged consent keeps its record
    assert Order.objects.filter(customer=lukas).count() == 1


def test_a_customer_with_orders_dated_0001_and_9999_shows_in_a_zone_behind_utc(admin_client, shop, settings):
    settings.TIME_ZONE = "Europe/London"  # 0001-01-01 00:00 UTC is still year 0 there
    Order.objects.create(customer=shop.nobody, external_id="LAST", amount=1,
                         ordered_at=datetime.datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    Order.objects.filter(external_id="O4").update(ordered_at=datetime.datetime(1, 1, 1, tzinfo=UTC))

    customers = admin_client.get(CUSTOMERS_URL)
    page = admin_client.get(reverse("admin:segments_customer_change", args=[shop.lukas.pk]))

    assert customers.status_code == 200 and page.status_code == 200
    assert customers.text.count("Jan. 1, 0001, midnight UTC") == 1  # Lukas's last order
    assert page.text.count("Jan. 1, 0001, midnight UTC") == 3  # first and last order, and the order itself
