"""Order admin: a list that stays one query per page, exact-id search, date drill-down, edits that touch customers."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from segments.models import Customer, Order

from .conftest import make_order

pytestmark = pytest.mark.django_db

ORDERS_URL = reverse("admin:segments_order_changelist")


def orders_listed(response):
    return {order.external_id for order in response.context["cl"].result_list}


def test_the_order_list_renders_with_customers_in_one_query(admin_client, shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = admin_client.get(ORDERS_URL)

    assert response.status_code == 200
    assert orders_listed(response) == {"O1", "O2", "O3", "O4"}
    assert "Emma Smith (C000001)" in response.text


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"q": "O2"}, {"O2"}),
        ({"q": "o4"}, {"O4"}),
        ({"q": "C000001"}, {"O1", "O2", "O3"}),
        ({"q": "O"}, set()),
        ({"is_return__exact": "1"}, {"O3"}),
        ({"has_coupon": "yes"}, {"O2"}),
        ({"has_coupon": "no"}, {"O1", "O3", "O4"}),
        ({"ordered_at__year": "2025", "ordered_at__month": "1", "ordered_at__day": "11"}, {"O4"}),
        ({"ordered_at__gte": "2025-01-30 00:00:00+00:00", "ordered_at__lt": "2025-02-04 00:00:00+00:00"}, {"O2", "O3"}),
    ],
)
def test_order_search_and_filters(admin_client, shop, params, found):
    response = admin_client.get(ORDERS_URL, params)

    assert response.status_code == 200
    assert orders_listed(response) == found


def test_all_orders_of_a_customer_are_one_link_away(admin_client, shop):
    response = admin_client.get(ORDERS_URL, {"customer__id__exact": shop.emma.pk})

    assert orders_listed(response) == {"O1", "O2", "O3"}


def test_editing_an_order_marks_its_customer_changed_for_resegmentation(admin_client, shop):
    order = Order.objects.get(external_id="O4")
    Customer.objects.filter(pk=shop.lukas.pk).update(updated_at=timezone.now() - datetime.timedelta(days=3))
    before = timezone.now()

    response = admin_client.post(
        reverse("admin:segments_order_change", args=[order.pk]),
        {
            "external_id": "O4", "customer": str(shop.lukas.pk), "ordered_at_0": "2025-01-11",
            "ordered_at_1": "12:00:00", "amount": "99.00", "quantity": "2", "coupon_code": "", "attributes": "{}",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Order.objects.get(pk=order.pk).amount == Decimal("99.00")
    assert Customer.objects.get(pk=shop.lukas.pk).updated_at >= before


def test_the_order_dates_drill_down_from_years_to_months_to_days(admin_client, shop):
    make_order(shop.nobody, "O5", -40, "5.00")  # 2024-11-22

    years = admin_client.get(ORDERS_URL).context["order_dates"]["choices"]
    months = admin_client.get(ORDERS_URL, {"ordered_at__year": "2025"}).context["order_dates"]["choices"]
    days = admin_client.get(ORDERS_URL, {"ordered_at__year": "2025", "ordered_at__month": "2"}).context["order_dates"]

    assert [choice["title"] for choice in years] == ["2024", "2025"]
    assert [choice["title"] for choice in months] == ["January 2025", "February 2025"]
    assert [choice["title"] for choice in days["choices"]] == ["February 3"]
    assert days["back"]["title"] == "2025"
    assert "ordered_at__month=2" in days["choices"][0]["link"] and "ordered_at__day=3" in days["choices"][0]["link"]


# --- the customer's name is customer data ------------------------------------------------------


def test_the_order_list_shows_only_customer_ids_to_staff_who_may_not_view_customers(staff_with, shop):
    page = staff_with("view_order").get(ORDERS_URL)

    assert page.status_code == 200
    assert orders_listed(page) == {"O1", "O2", "O3", "O4"}
    assert "C000001" in page.text
    assert "Emma" not in page.text and reverse("admin:segments_customer_change", args=[shop.emma.pk]) not in page.text


def test_the_order_list_names_and_links_customers_for_staff_who_may_view_them(staff_with, shop):
    page = staff_with("view_order", "view_customer").get(ORDERS_URL)

    assert "Emma Smith (C000001)" in page.text
    assert reverse("admin:segments_customer_change", args=[shop.emma.pk]) in page.text


@pytest.fixture
def placeholder_dates(shop, settings):
    """Orders dated 0001-01-01 and 9999-12-31 (UTC), written straight to the database, in a
    shop in London: 0001-01-01 00:00 UTC is still year 0 there (its offset was -0:01:15)."""
    settings.TIME_ZONE = "Europe/London"
    utc = datetime.UTC
    Order.objects.create(customer=shop.nobody, external_id="FIRST", amount=1,
                         ordered_at=datetime.datetime(1, 1, 1, tzinfo=utc))
    Order.objects.create(customer=shop.nobody, external_id="LAST", amount=1,
                         ordered_at=datetime.datetime(9999, 12, 31, 23, 59, tzinfo=utc))


def test_the_order_list_shows_orders_dated_0001_and_9999_and_offers_their_years(admin_client, placeholder_dates):
    response = admin_client.get(ORDERS_URL)

    assert response.status_code == 200
    assert orders_listed(response) == {"O1", "O2", "O3", "O4", "FIRST", "LAST"}
    assert "1 Jan 0001, 00:00 UTC" in response.text  # London cannot show it: UTC, said so
    # Their own years, and the years of the other orders: not the 9,999 in between.
    years = [choice["title"] for choice in response.context["order_dates"]["choices"]]
    assert years == ["1", "2025", "9999"]


@pytest.mark.parametrize(("params", "found"), [
    ({"ordered_at__year": "9999"}, {"LAST"}),
    ({"ordered_at__year": "9999", "ordered_at__month": "12"}, {"LAST"}),
    ({"ordered_at__year": "9999", "ordered_at__month": "12", "ordered_at__day": "31"}, {"LAST"}),
    ({"ordered_at__year": "1"}, {"FIRST"}),
    ({"ordered_at__year": "1", "ordered_at__month": "1", "ordered_at__day": "1"}, {"FIRST"}),
    ({"ordered_at__year": "2025", "ordered_at__month": "1"}, {"O1", "O2", "O4"}),
])
def test_the_drill_down_reaches_the_first_and_the_last_day_there_is(admin_client, placeholder_dates, params, found):
    response = admin_client.get(ORDERS_URL, params)

    assert response.status_code == 200
    assert orders_listed(response) == found


def test_an_order_dated_0001_opens_in_a_zone_behind_utc(admin_client, placeholder_dates):
    order = Order.objects.get(external_id="FIRST")

    response = admin_client.get(reverse("admin:segments_order_change", args=[order.pk]))

    assert response.status_code == 200
