"""The synthetic shop: deterministic, well-formed, and with personas that behave as they should."""

import datetime

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from segments.sampledata import PERSONAS, generate_shop

END = datetime.date(2025, 6, 30)
CUSTOMERS = 20_000


@pytest.fixture(scope="module")
def shop():
    return generate_shop(customers=CUSTOMERS, seed=7, end=END)


@pytest.fixture(scope="module")
def rfm(shop):
    """Recency (days before END), frequency and monetary per customer who bought, with its persona."""
    purchases = shop.orders[~shop.orders["is_return"]]
    per_customer = purchases.groupby("customer_id").agg(
        last=("ordered_at", "max"), frequency=("external_id", "size"), monetary=("amount", "sum")
    )
    end_of_day = pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)
    per_customer["recency"] = (end_of_day - per_customer["last"]).dt.days
    per_customer["persona"] = shop.personas.reindex(per_customer.index).astype(str).to_numpy()
    return per_customer


def test_it_gives_identical_frames_for_the_same_arguments(shop):
    again = generate_shop(customers=CUSTOMERS, seed=7, end=END)

    pd.testing.assert_frame_equal(shop.customers, again.customers)
    pd.testing.assert_frame_equal(shop.orders, again.orders)
    pd.testing.assert_series_equal(shop.personas, again.personas)


def test_it_gives_a_different_shop_for_another_seed(shop):
    other = generate_shop(customers=CUSTOMERS, seed=8, end=END)

    assert not shop.orders["amount"].head(1000).equals(other.orders["amount"].head(1000))
    assert not shop.customers["email"].equals(other.customers["email"])


def test_it_has_the_requested_customers_and_about_the_requested_orders_per_customer():
    for orders_per_customer in (5.0, 10.0):
        shop = generate_shop(customers=10_000, seed=1, end=END, orders_per_customer=orders_per_customer)

        assert len(shop.customers) == 10_000
        assert shop.customers["external_id"].is_unique
        assert len(shop.orders) / 10_000 == pytest.approx(orders_per_customer, rel=0.05)


def test_it_numbers_customers_and_orders_like_a_shop(shop):
    assert shop.customers["external_id"].iloc[0] == "C000001"
    assert shop.customers["external_id"].str.fullmatch(r"C\d{6}").all()
    assert shop.orders["external_id"].iloc[0] == "O0000001"
    assert shop.orders["external_id"].str.fullmatch(r"O\d{7}").all()
    assert shop.orders["external_id"].is_unique
    # Order numbers follow time.
    assert shop.orders["ordered_at"].is_monotonic_increasing


def test_every_order_belongs_to_a_customer_and_some_customers_never_bought(shop):
    assert shop.orders["customer_id"].isin(shop.customers["external_id"]).all()
    never = ~shop.customers["external_id"].isin(shop.orders["customer_id"])
    assert 0.01 < never.mean() < 0.1


def test_orders_are_utc_and_never_after_the_end_date(shop):
    ordered_at = shop.orders["ordered_at"]

    assert str(ordered_at.dt.tz) == "UTC"
    assert (ordered_at.dt.date <= END).all()
    assert ordered_at.min() >= pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=2 * 365 + 2)


def test_returns_are_a_few_percent_with_negative_amounts_after_a_purchase(shop):
    orders = shop.orders
    returns = orders[orders["is_return"]]

    assert 0.01 < len(returns) / len(orders) < 0.08
    assert (returns["amount"] < 0).all()
    assert (returns["quantity"] < 0).all()
    assert (returns["coupon_code"] == "").all()
    assert (orders.loc[~orders["is_return"], "amount"] > 0).all()
    first_purchase = orders[~orders["is_return"]].groupby("customer_id")["ordered_at"].min()
    assert (returns["ordered_at"].to_numpy() > first_purchase.reindex(returns["customer_id"]).to_numpy()).all()


def test_amounts_have_two_decimals_and_quantities_are_whole(shop):
    amount = shop.orders["amount"]

    assert np.allclose(amount, amount.round(2))
    assert shop.orders["quantity"].dtype == np.int64
    assert (shop.orders.loc[~shop.orders["is_return"], "quantity"] >= 1).all()


def test_some_orders_use_coupons_and_bargain_hunters_use_them_most(shop):
    orders = shop.orders[~shop.orders["is_return"]]
    with_coupon = orders["coupon_code"] != ""
    persona = shop.personas.reindex(orders["customer_id"]).astype(str).to_numpy()

    assert 0.05 < with_coupon.mean() < 0.5
    by_persona = with_coupon.groupby(persona).mean()
    assert by_persona.idxmax() == "bargain_hunters"


def test_more_is_ordered_in_december_than_in_august(shop):
    purchases = shop.orders[~shop.orders["is_return"]]
    per_month = purchases["ordered_at"].dt.month.value_counts()

    assert per_month[12] > 1.5 * per_month[8]


def test_every_phone_is_a_valid_e164_number_of_the_customers_country(shop):
    customers = shop.customers[shop.customers["phone"] != ""]
    regions = {"United Kingdom": "GB", "Ireland": "IE", "Germany": "DE", "France": "FR", "Netherlands": "NL",
               "Spain": "ES", "United States": "US"}

    for phone, country in zip(customers["phone"], customers["country"]):
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
        assert phonenumbers.region_code_for_number(number) == regions[country], phone


def test_emails_are_unique_lower_case_and_on_example_domains(shop):
    emails = shop.customers.loc[shop.customers["email"] != "", "email"]

    assert emails.is_unique
    assert (emails == emails.str.lower()).all()
    assert emails.str.fullmatch(r"[a-z0-9.]+@example\.(com|org)").all()


def test_most_customers_have_an_email_and_about_half_a_phone(shop):
    customers = shop.customers

    assert 0.8 < (customers["email"] != "").mean() < 0.95
    assert 0.4 < (customers["phone"] != "").mean() < 0.7


def test_consent_needs_a_contact_and_has_a_time_and_source(shop):
    customers = shop.customers
    for channel, contact in (("email", "email"), ("sms", "phone")):
        consent = customers[f"{channel}_consent"]

        assert 0.1 < consent.mean() < 0.8
        assert (customers.loc[consent, contact] != "").all()
        assert customers.loc[consent, f"{channel}_consent_at"].notna().all()
        assert customers.loc[~consent, f"{channel}_consent_at"].isna().all()
        assert set(customers.loc[consent, f"{channel}_consent_source"]) == {"checkout", "form"}
        assert (customers.loc[~consent, f"{channel}_consent_source"] == "").all()
        assert (customers[f"{channel}_consent_at"].dropna().dt.date <= END).all()


def test_time_zones_and_locales_match_the_country(shop):
    zones = shop.customers.groupby("country")["time_zone"].unique()
    locales = shop.customers.groupby("country")["locale"].unique()

    assert set(zones["Germany"]) == {"Europe/Berlin"}
    assert set(zones["United Kingdom"]) == {"Europe/London"}
    assert set(zones["United States"]) <= {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}
    assert set(locales["France"]) == {"fr_FR"}
    assert shop.customers["country"].nunique() >= 6


def test_customers_carry_numeric_attributes_to_cluster_on(shop):
    assert shop.customers["complains"].dtype == np.int64
    assert shop.customers["complains"].between(0, 20).all()
    assert shop.customers["complains"].gt(0).any()
    assert shop.customers["age"].between(18, 90).all()


def test_the_persona_mix_looks_like_a_real_shop(shop):
    mix = shop.personas.value_counts(normalize=True)

    assert set(mix.index) == {p.name for p in PERSONAS}
    assert mix["hibernating"] > mix["loyal"] > mix["champions"]
    assert shop.personas.index.equals(pd.Index(shop.customers["external_id"]))


def test_champions_buy_more_recently_and_more_often_than_customers_at_risk_or_asleep(rfm):
    median = rfm.groupby("persona")[["recency", "frequency", "monetary"]].median()
    mean = rfm.groupby("persona")[["frequency", "monetary"]].mean()

    assert median.loc["champions", "recency"] < median.loc["at_risk", "recency"]
    assert median.loc["at_risk", "recency"] < median.loc["hibernating", "recency"]
    assert mean.loc["champions", "frequency"] > mean.loc["hibernating", "frequency"]
    assert mean.loc["champions", "monetary"] > mean.loc["loyal", "monetary"] > mean.loc["hibernating", "monetary"]


def test_new_customers_bought_first_in_the_last_weeks(shop):
    purchases = shop.orders[~shop.orders["is_return"]]
    first = purchases.groupby("customer_id")["ordered_at"].min()
    new = shop.personas[shop.personas == "new"].index

    days = (pd.Timestamp(END, tz="UTC") - first.reindex(new).dropna()).dt.days
    assert days.max() <= 45


def test_big_spenders_have_the_largest_baskets_and_hibernating_customers_buy_once_or_twice(rfm):
    basket = (rfm["monetary"] / rfm["frequency"]).groupby(rfm["persona"]).median()

    assert basket.idxmax() == "big_spenders"
    assert rfm.loc[rfm["persona"] == "hibernating", "frequency"].max() <= 2


def test_a_shop_without_customers_is_empty_but_well_formed():
    shop = generate_shop(customers=0, end=END)

    assert shop.customers.empty and shop.orders.empty
    assert list(shop.orders.columns) == [
        "external_id", "customer_id", "ordered_at", "amount", "quantity", "is_return", "coupon_code"
    ]


def test_it_refuses_nonsense_sizes():
    with pytest.raises(ValueError, match="orders_per_customer"):
        generate_shop(customers=10, end=END, orders_per_customer=0)
    with pytest.raises(ValueError, match="customers"):
        generate_shop(customers=-1, end=END)


# --- the management command (writes through segments.importing) ---------------------------


@pytest.mark.django_db
def test_the_command_imports_the_shop_and_a_second_run_changes_nothing(tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from segments.models import Customer, Order

    args = ["generate_sample_data", "--customers", "300", "--seed", "4", "--end-date", "2025-06-30"]
    first = StringIO()
    call_command(*args, "--output-dir", str(tmp_path), stdout=first)
    expected = generate_shop(customers=300, seed=4, end=END)

    assert Customer.objects.count() == 300
    assert Order.objects.count() == len(expected.orders)
    assert Order.objects.filter(is_return=True).count() == int(expected.orders["is_return"].sum())
    assert "Customers: 300 created, 0 updated, 0 unchanged, 0 rejected" in first.getvalue()
    written = pd.read_csv(tmp_path / "orders.csv", dtype=str, keep_default_na=False)
    assert list(written["external_id"]) == list(expected.orders["external_id"])
    assert set(written["is_return"]) == {"true", "false"}

    second = StringIO()
    call_command(*args, stdout=second)

    assert "Customers: 0 created, 0 updated, 300 unchanged, 0 rejected" in second.getvalue()
    assert f"Orders: 0 created, 0 updated, {len(expected.orders):,} unchanged, 0 rejected" in second.getvalue()
