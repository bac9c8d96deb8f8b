"""Customer and order admin: pages a marketer can read, searches that find people, bounded queries."""

import datetime
import types
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from segments.admin.customers import LATEST_ORDERS_SHOWN
from segments.models import ConsentSource, Customer, Order

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
CUSTOMERS_URL = reverse("admin:segments_customer_changelist")
ORDERS_URL = reverse("admin:segments_order_changelist")


@pytest.fixture
def client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture(autouse=True)
def no_cached_choices():
    # The country filter caches its choices; a test must not see the previous test's countries.
    from django.core.cache import cache

    cache.clear()


def make_customer(external_id, **fields):
    return Customer.objects.create(external_id=external_id, **fields)


def make_order(customer, external_id, day, amount, *, is_return=False, coupon_code="", quantity=1):
    return Order.objects.create(
        customer=customer,
        external_id=external_id,
        ordered_at=datetime.datetime(2025, 1, 1, 12, tzinfo=UTC) + datetime.timedelta(days=day),
        amount=Decimal(amount),
        quantity=quantity,
        is_return=is_return,
        coupon_code=coupon_code,
    )


@pytest.fixture
def shop():
    emma = make_customer(
        "C000001", first_name="Emma", last_name="Smith", email="emma.smith@example.com", phone="+447911123456",
        country="United Kingdom", email_consent=True, attributes={"complains": 2, "money_spent": 120.5},
    )
    lukas = make_customer(
        "C000002", first_name="Lukas", last_name="Müller", email="lukas@example.org", phone="+4915112345678",
        country="Germany", sms_consent=True,
    )
    nobody = make_customer("C000003", first_name="Zoë", last_name="Visser", country="Netherlands")
    make_order(emma, "O1", 0, "40.00")
    make_order(emma, "O2", 30, "60.00", coupon_code="SAVE10")
    make_order(emma, "O3", 33, "-20.00", is_return=True)
    make_order(lukas, "O4", 10, "15.50")
    return types.SimpleNamespace(emma=emma, lukas=lukas, nobody=nobody)


def listed(response):
    return {customer.external_id: customer for customer in response.context["cl"].result_list}


# --- customer list ---------------------------------------------------------------------


def test_the_customer_list_shows_orders_net_spend_and_last_order(client, shop):
    response = client.get(CUSTOMERS_URL)

    assert response.status_code == 200
    rows = listed(response)
    assert rows["C000001"].order_count == 2  # the return is not an order
    assert rows["C000001"].total_spend == Decimal("80.00")  # 40 + 60 - 20
    assert rows["C000001"].last_order_at == datetime.datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert rows["C000003"].order_count == 0
    assert rows["C000003"].total_spend is None
    assert "Emma Smith" in response.text
    assert "80.00" in response.text


def test_the_customer_list_costs_the_same_queries_for_many_customers(client, shop):
    with CaptureQueriesContext(connection) as few:
        client.get(CUSTOMERS_URL)
    for i in range(40):
        customer = make_customer(f"X{i:03d}", first_name="Many", country="Spain")
        make_order(customer, f"XO{i:03d}", i, "10.00")
        make_order(customer, f"XR{i:03d}", i + 1, "-10.00", is_return=True)

    with CaptureQueriesContext(connection) as many:
        response = client.get(CUSTOMERS_URL)

    assert len(listed(response)) == 43
    assert len(many) <= len(few) + 1  # the country choices were cached by the first request


def test_the_customer_list_stays_within_a_fixed_number_of_queries(client, shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        client.get(CUSTOMERS_URL)


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
def test_search_finds_customers_by_email_phone_id_and_name(client, shop, term, found):
    response = client.get(CUSTOMERS_URL, {"q": term})

    assert set(listed(response)) == found


def test_search_does_not_match_ids_by_substring(client, shop):
    response = client.get(CUSTOMERS_URL, {"q": "00000"})

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
def test_filters_narrow_the_customer_list(client, shop, params, found):
    response = client.get(CUSTOMERS_URL, params)

    assert response.status_code == 200
    assert set(listed(response)) == found


def test_the_country_filter_offers_the_shops_countries(client, shop):
    response = client.get(CUSTOMERS_URL)

    choices = [choice["display"] for spec in response.context["cl"].filter_specs
               if getattr(spec, "parameter_name", None) == "country" for choice in spec.choices(response.context["cl"])]
    assert choices == ["All", "Germany", "Netherlands", "United Kingdom"]


def test_the_created_date_filter_works(client, shop):
    Customer.objects.filter(pk=shop.nobody.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))

    # The filter's own "Past 7 days" link: an aware midnight, as DateFieldListFilter writes it.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    response = client.get(CUSTOMERS_URL, {"created_at__gte": str(midnight - datetime.timedelta(days=6))})

    assert set(listed(response)) == {"C000001", "C000002"}


# --- customer page ---------------------------------------------------------------------


def test_the_customer_page_shows_totals_orders_and_attributes(client, shop):
    response = client.get(reverse("admin:segments_customer_change", args=[shop.emma.pk]))

    assert response.status_code == 200
    text = response.text
    for expected in ("Identity", "Contact", "Consent", "Attributes", "Totals"):
        assert expected in text
    assert "Orders that are not returns." in text  # totals explain themselves
    inline = response.context["inline_admin_formsets"][0]
    assert [form.original.external_id for form in inline] == ["O3", "O2", "O1"]  # newest first
    assert "<th>complains</th><td>2</td>" in text
    assert f"?customer__id__exact={shop.emma.pk}" in text


def test_the_customer_totals_are_right(client, shop):
    customer_admin = admin.site._registry[Customer]
    emma = Customer.objects.get(pk=shop.emma.pk)

    assert customer_admin.totals_orders(emma) == 2
    assert customer_admin.totals_returns(emma) == 1
    assert customer_admin.totals_net_spend(emma) == "80.00"
    assert customer_admin.totals_average_order_value(emma) == "50.00"
    assert customer_admin.totals_first_order(emma) == datetime.datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert customer_admin.totals_last_order(emma) == datetime.datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert customer_admin.totals_average_order_value(Customer.objects.get(pk=shop.nobody.pk)) == "-"


def test_the_customer_page_shows_only_the_latest_orders_with_bounded_queries(client, shop, django_assert_max_num_queries):
    url = reverse("admin:segments_customer_change", args=[shop.emma.pk])
    with CaptureQueriesContext(connection) as few_orders:
        client.get(url)
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
        response = client.get(url)

    shown = [form.original.external_id for form in response.context["inline_admin_formsets"][0]]
    assert len(shown) == LATEST_ORDERS_SHOWN
    assert shown[:3] == ["O3", "O2", "O1"]
    assert "B000" not in shown  # the oldest order is left out


def test_changing_a_consent_in_admin_records_when_and_that_it_was_admin(client, shop):
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

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    lukas = Customer.objects.get(pk=shop.lukas.pk)
    assert lukas.email_consent is True
    assert lukas.email_consent_source == ConsentSource.ADMIN
    assert lukas.email_consent_at >= before
    assert lukas.sms_consent_source == ""  # unchanged consent keeps its record
    assert Order.objects.filter(customer=lukas).count() == 1


# --- orders ----------------------------------------------------------------------------


def orders_listed(response):
    return {order.external_id for order in response.context["cl"].result_list}


def test_the_order_list_renders_with_customers_in_one_query(client, shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = client.get(ORDERS_URL)

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
def test_order_search_and_filters(client, shop, params, found):
    response = client.get(ORDERS_URL, params)

    assert response.status_code == 200
    assert orders_listed(response) == found


def test_all_orders_of_a_customer_are_one_link_away(client, shop):
    response = client.get(ORDERS_URL, {"customer__id__exact": shop.emma.pk})

    assert orders_listed(response) == {"O1", "O2", "O3"}


def test_editing_an_order_marks_its_customer_changed_for_resegmentation(client, shop):
    order = Order.objects.get(external_id="O4")
    Customer.objects.filter(pk=shop.lukas.pk).update(updated_at=timezone.now() - datetime.timedelta(days=3))
    before = timezone.now()

    response = client.post(
        reverse("admin:segments_order_change", args=[order.pk]),
        {
            "external_id": "O4", "customer": str(shop.lukas.pk), "ordered_at_0": "2025-01-11",
            "ordered_at_1": "12:00:00", "amount": "99.00", "quantity": "2", "coupon_code": "", "attributes": "{}",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Order.objects.get(pk=order.pk).amount == Decimal("99.00")
    assert Customer.objects.get(pk=shop.lukas.pk).updated_at >= before


# --- import button ---------------------------------------------------------------------


def test_both_lists_link_to_the_csv_import(client, shop):
    for url in (CUSTOMERS_URL, ORDERS_URL):
        response = client.get(url)
        assert '<a href="/admin/segments/import/" class="addlink">Import CSV</a>' in response.text


def test_the_order_dates_drill_down_from_years_to_months_to_days(client, shop):
    make_order(shop.nobody, "O5", -40, "5.00")  # 2024-11-22

    years = client.get(ORDERS_URL).context["order_dates"]["choices"]
    months = client.get(ORDERS_URL, {"ordered_at__year": "2025"}).context["order_dates"]["choices"]
    days = client.get(ORDERS_URL, {"ordered_at__year": "2025", "ordered_at__month": "2"}).context["order_dates"]

    assert [choice["title"] for choice in years] == ["2024", "2025"]
    assert [choice["title"] for choice in months] == ["January 2025", "February 2025"]
    assert [choice["title"] for choice in days["choices"]] == ["February 3"]
    assert days["back"]["title"] == "2025"
    assert "ordered_at__month=2" in days["choices"][0]["link"] and "ordered_at__day=3" in days["choices"][0]["link"]
