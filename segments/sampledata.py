"""A synthetic shop: customers and orders with behaviour a segmentation should find.

pandas and NumPy only (no Django), so demos, tests and benchmarks can generate a shop
without a database. `generate_shop()` returns frames in the canonical import columns;
`generate_sample_data` writes them through the import service.

Every customer belongs to one persona (champions, loyal, at risk, ...) that fixes the
shape of its history: how many orders, how recent the last one, how long it has been
a customer, what it spends and how often it returns things or uses coupons. The
personas are the ground truth a test can check a segmentation against; they are not
imported.

It is built for size: one million customers and ten million orders are generated with
array operations only (np.repeat / cumsum over per-customer counts, inverse-CDF sampling
of days), never a Python loop per customer or per order. The only per-row Python work is
creating the id strings, done by one `str.split` over a byte buffer.
"""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PERSONAS", "Persona", "SampleShop", "generate_shop"]

_NS_PER_SECOND = 1_000_000_000
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Persona:
    name: str
    share: float  # of all customers
    orders_mean: float  # purchases per customer at the default mix (before scaling)
    scales: bool  # False: its order count is part of what it is (one-timers), not scaled
    max_orders: int | None
    last_ago: tuple[str, float, float]  # days before `end` of the last order: ("exp", mean, cap) or ("uniform", lo, hi)
    span: tuple[float, float]  # days between first and last order, uniform; capped by the horizon
    basket_median: float
    basket_sigma: float  # of the log-normal basket value
    item_price: float  # typical price of one item: sets quantity per order
    return_rate: float  # share of purchases later (partly) returned
    coupon_rate: float
    complains: float  # mean complaints (Poisson)
    email_consent: float  # share consenting, among customers with an email address
    sms_consent: float  # share consenting, among customers with a phone number


# A mix like a real small shop: a third are one-timers who never came back, few champions.
PERSONAS: tuple[Persona, ...] = (
    Persona("champions", 0.04, 24, True, None, ("exp", 6, 30), (300, 10_000), 95, 0.45, 30, 0.04, 0.08, 0.1, 0.80, 0.45),
    Persona("loyal", 0.11, 11, True, None, ("exp", 25, 90), (250, 10_000), 60, 0.45, 25, 0.03, 0.10, 0.15, 0.70, 0.35),
    Persona("big_spenders", 0.06, 3, True, None, ("uniform", 15, 150), (120, 10_000), 320, 0.55, 60, 0.08, 0.05, 0.2, 0.55, 0.25),
    Persona("new", 0.08, 1.25, False, 3, ("uniform", 0, 20), (0, 21), 50, 0.50, 25, 0.03, 0.35, 0.05, 0.65, 0.30),
    Persona("promising", 0.11, 3, True, None, ("exp", 15, 60), (30, 120), 55, 0.45, 25, 0.03, 0.15, 0.1, 0.60, 0.30),
    Persona("at_risk", 0.13, 9, True, None, ("uniform", 100, 300), (200, 10_000), 65, 0.45, 25, 0.05, 0.10, 0.6, 0.55, 0.25),
    Persona("hibernating", 0.34, 1.3, False, 2, ("uniform", 240, 10_000), (0, 60), 28, 0.50, 20, 0.03, 0.10, 0.3, 0.40, 0.15),
    Persona("bargain_hunters", 0.10, 12, True, None, ("exp", 20, 90), (150, 10_000), 18, 0.35, 6, 0.06, 0.70, 0.3, 0.60, 0.30),
    Persona("no_orders", 0.03, 0, False, 0, ("uniform", 0, 0), (0, 0), 1, 0.1, 1, 0.0, 0.0, 0.0, 0.50, 0.20),
)

# Countries with their time zones (share within the country), locale and mobile number
# plan. Phone prefixes are ones where every suffix of the given length is a valid mobile
# number for `phonenumbers`; US numbers use the fictional 555-01xx block.
_COUNTRIES = (
    # name, share, ((time zone, share), ...), locale, ((prefix, random digits), ...)
    ("United Kingdom", 0.40, (("Europe/London", 1.0),), "en_GB", (("+44790", 7), ("+44780", 7), ("+44771", 7), ("+44795", 7))),
    ("Ireland", 0.06, (("Europe/Dublin", 1.0),), "en_IE", (("+35385", 7), ("+35387", 7))),
    ("Germany", 0.15, (("Europe/Berlin", 1.0),), "de_DE", (("+49151", 8), ("+49160", 8), ("+49176", 8))),
    ("France", 0.10, (("Europe/Paris", 1.0),), "fr_FR", (("+33612", 6), ("+33660", 6), ("+33678", 6))),
    ("Netherlands", 0.07, (("Europe/Amsterdam", 1.0),), "nl_NL", (("+31612", 6), ("+31620", 6), ("+31650", 6))),
    ("Spain", 0.07, (("Europe/Madrid", 1.0),), "es_ES", (("+346", 8),)),
    (
        "United States",
        0.15,
        (("America/New_York", 0.5), ("America/Chicago", 0.25), ("America/Denver", 0.05), ("America/Los_Angeles", 0.2)),
        "en_US",
        (("+120155501", 2), ("+121255501", 2), ("+131255501", 2), ("+141555501", 2)),
    ),
)

_FIRST_NAMES = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Sophie", "Liam", "Emma",
    "Lukas", "Hannah", "Léa", "Hugo", "Chloé", "Sem", "Julia", "Daan", "Lucía", "Mateo", "Sofía", "Zoë",
    "Seán", "Aoife", "Ethan", "Olivia", "James", "Grace", "Finn", "Lena",
)
_LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Murphy", "O'Brien", "Kelly", "Müller",
    "Schmidt", "Schneider", "Fischer", "Martin", "Bernard", "Dubois", "de Vries", "Jansen", "Bakker", "García",
    "Fernández", "López", "Johnson", "Miller", "Davis", "Clarke", "Walsh", "Weber", "Moreau", "Visser", "Ruiz",
)
_EMAIL_DOMAINS = ("example.com", "example.org")

_NO_EMAIL_SHARE = 0.12
_NO_PHONE_SHARE = 0.45
_CHECKOUT_CONSENT_SHARE = 0.7  # the rest consented in a signup form, before buying

# Relative order intensity by calendar month (Jan..Dec): the Christmas peak, a summer dip.
_MONTH_INTENSITY = np.array([0.85, 0.80, 0.90, 0.95, 0.95, 0.85, 0.75, 0.75, 0.95, 1.00, 1.35, 1.60])
# Monday..Sunday: online shops peak on Sunday evening and Monday.
_WEEKDAY_INTENSITY = np.array([1.10, 1.00, 1.00, 0.95, 0.90, 0.85, 1.20])
_BLACK_FRIDAY_BOOST = 2.5
_CYBER_MONDAY_BOOST = 2.0
# Local hour of day: quiet at night, a lunch bump and an evening peak.
_HOUR_WEIGHTS = np.array(
    [0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 2.3, 2.5, 3.0, 3.0, 2.5, 2.3, 2.3, 2.5, 3.0, 3.6, 4.0, 3.8, 2.8, 1.4]
)
_DECEMBER_BASKET_LIFT = 1.12
_COUPON_DISCOUNT = 0.85
_SEASONAL_COUPON_LIFT = 1.5  # Nov/Dec
_RETURN_DELAY_DAYS = 6.0  # mean delay after the purchase, on top of one day
_FULL_RETURN_SHARE = 0.6


@dataclass(frozen=True)
class SampleShop:
    """customers and orders in the canonical import columns; personas: ground truth per external_id."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    personas: pd.Series


def generate_shop(
    *,
    customers: int,
    seed: int = 0,
    end: datetime.date,
    years: float = 2.0,
    orders_per_customer: float = 5.0,
) -> SampleShop:
    """A synthetic shop with `customers` customers and about `orders_per_customer` × customers orders.

    Orders (returns included) fall in the `years` before `end`, all on or before `end` (UTC).
    The same arguments always give identical frames.
    """
    if customers < 0:
        raise ValueError(f"customers must be >= 0, got {customers}")
    if years <= 0:
        raise ValueError(f"years must be positive, got {years}")
    if orders_per_customer <= 0:
        raise ValueError(f"orders_per_customer must be positive, got {orders_per_customer}")

    rng = np.random.default_rng(seed)
    horizon = max(int(round(years * 365.25)), 30)
    first_day = np.datetime64(end, "D") - (horizon - 1)
    intensity = _day_intensity(first_day, horizon)

    persona = rng.choice(len(PERSONAS), size=customers, p=_column("share") / _column("share").sum())
    country, tz = _draw_places(rng, customers)
    counts, last_day, first_order_day = _draw_histories(rng, persona, horizon, orders_per_customer)
    purchases = _draw_purchases(rng, persona, tz, counts, last_day, first_order_day, intensity, first_day, end)
    returns = _draw_returns(rng, persona, purchases, end)

    customer_ids = _numbered("C", np.arange(1, customers + 1), width=max(6, len(str(customers))))
    orders = _orders_frame(purchases, returns, customer_ids)
    customers_frame = _customers_frame(rng, persona, country, tz, counts, purchases, customer_ids, first_day, horizon)
    personas = pd.Series(
        pd.Categorical.from_codes(persona, categories=[p.name for p in PERSONAS]),
        index=pd.Index(customer_ids, dtype="str", name="external_id"),
        name="persona",
    )
    return SampleShop(customers=customers_frame, orders=orders, personas=personas)


# --- histories -------------------------------------------------------------------------


def _column(field: str) -> np.ndarray:
    return np.array([getattr(p, field) for p in PERSONAS], dtype=float)


def _orders_scale(orders_per_customer: float) -> float:
    """The factor on the scalable personas' order counts that gives the requested average.

    Rows include returns, so the target is purchases × (1 + return rate). One-timer personas
    keep their counts; a tiny average can therefore not be reached exactly (floor of one order).
    """
    share = _column("share") / _column("share").sum()
    rows_per_purchase = 1 + _column("return_rate")

    def expected_rows(scale):
        purchases = [_expected_count(mean, p.max_orders) for mean, p in zip(_persona_means(scale), PERSONAS)]
        return float((share * np.array(purchases) * rows_per_purchase).sum())

    lo, hi = 0.0, 1.0
    while expected_rows(hi) < orders_per_customer:
        hi *= 2
    for _ in range(60):  # bisection on a monotone function of nine personas
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected_rows(mid) < orders_per_customer else (lo, mid)
    return hi


# Purchase counts are 1 + negative binomial: over-dispersed like real ones (a long tail of heavy buyers).
_DISPERSION = 2.0


def _persona_means(scale: float) -> np.ndarray:
    return np.array([max(p.orders_mean * scale, 1.0) if p.scales else p.orders_mean for p in PERSONAS])


def _expected_count(mean: float, cap: int | None) -> float:
    """E[min(1 + NB, cap)] for a persona whose uncapped mean is `mean`."""
    if mean == 0 or cap == 0:
        return 0.0
    if cap is None:
        return mean
    p = _DISPERSION / (_DISPERSION + max(mean - 1.0, 0.0))
    pmf, below = p**_DISPERSION, 0.0  # pmf of the NB at k, and P(NB < k) summed as k grows
    expected = 0.0
    for k in range(cap - 1):  # E[min(X, cap - 1)] = sum over k < cap - 1 of P(X > k)
        below += pmf
        expected += 1.0 - below
        pmf *= (k + _DISPERSION) / (k + 1) * (1 - p)
    return 1.0 + expected


def _draw_histories(rng, persona, horizon, orders_per_customer):
    """Per customer: purchase count, and the days (index into the horizon) of its last and first order."""
    p = PERSONAS
    mean = _persona_means(_orders_scale(orders_per_customer))[persona]
    cap = np.array([x.max_orders if x.max_orders is not None else np.iinfo(np.int32).max for x in p])[persona]
    extra = np.maximum(mean - 1.0, 0.0)
    counts = 1 + rng.negative_binomial(_DISPERSION, _DISPERSION / (_DISPERSION + extra))
    counts = np.where(mean == 0, 0, np.minimum(counts, cap)).astype(np.int64)

    kind = np.array([x.last_ago[0] == "exp" for x in p])[persona]
    a = np.array([x.last_ago[1] for x in p])[persona]
    b = np.minimum(np.array([x.last_ago[2] for x in p])[persona], horizon - 1)
    a = np.minimum(a, b)
    u = rng.random(persona.size)
    last_ago = np.where(kind, np.minimum(-a * np.log1p(-u), b), a + u * (b - a))
    span_lo = np.array([x.span[0] for x in p])[persona]
    span_hi = np.array([x.span[1] for x in p])[persona]
    last_ago = np.clip(np.floor(last_ago), 0, horizon - 1).astype(np.int64)
    span_hi = np.minimum(span_hi, horizon - 1 - last_ago)
    span = np.floor(np.minimum(span_lo, span_hi) + rng.random(persona.size) * np.maximum(span_hi - span_lo, 0))
    first_ago = last_ago + span.astype(np.int64)
    return counts, horizon - 1 - last_ago, horizon - 1 - first_ago


def _day_intensity(first_day, horizon):
    """Cumulative order intensity per day of the horizon (length horizon + 1, starting at 0)."""
    days = first_day + np.arange(horizon)
    months = days.astype("datetime64[M]").astype(np.int64) % 12
    day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    weight = _MONTH_INTENSITY[months] * _WEEKDAY_INTENSITY[weekday]
    # Black Friday follows the fourth Thursday of November: a Friday from the 23rd to the 29th.
    black_friday = (months == 10) & (weekday == 4) & (day_of_month >= 23) & (day_of_month <= 29)
    cyber_monday = np.zeros(horizon, dtype=bool)
    after = np.flatnonzero(black_friday) + 3
    cyber_monday[after[after < horizon]] = True
    weight = weight * np.where(black_friday, _BLACK_FRIDAY_BOOST, 1.0) * np.where(cyber_monday, _CYBER_MONDAY_BOOST, 1.0)
    return np.concatenate([[0.0], np.cumsum(weight)])


def _draw_purchases(rng, persona, tz, counts, last_day, first_order_day, cumulative, first_day, end):
    """One row per purchase, grouped by customer: customer index, UTC time (ns), amount, quantity, coupon."""
    total = int(counts.sum())
    customer = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    slot = np.arange(total) - np.repeat(starts, counts)
    lo, hi = first_order_day[customer], last_day[customer]

    # The last and first orders sit on the days the persona chose, so recency and tenure are
    # what it says; the orders between are drawn from the seasonal intensity by inverse CDF.
    target = cumulative[lo] + rng.random(total) * (cumulative[hi + 1] - cumulative[lo])
    day = np.clip(np.searchsorted(cumulative, target, side="right") - 1, lo, hi)
    day = np.where(slot == 0, hi, np.where(slot == 1, lo, day))

    hour = rng.choice(24, size=total, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    seconds = day * _SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, size=total)
    local = (first_day.astype("datetime64[s]").astype(np.int64) + seconds) * _NS_PER_SECOND
    at = _local_to_utc(local, tz[customer])
    # A late evening in America on the last day is already the next day in UTC: move it back a day.
    limit = _end_of_day_ns(end)
    at = np.where(at > limit, at - _SECONDS_PER_DAY * _NS_PER_SECOND, at)

    local_days = first_day + day
    month = local_days.astype("datetime64[M]").astype(np.int64) % 12
    p = persona[customer]
    basket_median = _column("basket_median")[p]
    sigma = _column("basket_sigma")[p]
    amount = basket_median * np.exp(sigma * rng.standard_normal(total))
    amount = amount * np.where(month == 11, _DECEMBER_BASKET_LIFT, 1.0)

    coupon_rate = _column("coupon_rate")[p] * np.where(month >= 10, _SEASONAL_COUPON_LIFT, 1.0)
    has_coupon = rng.random(total) < np.minimum(coupon_rate, 0.9)
    amount = np.maximum(np.round(amount * np.where(has_coupon, _COUPON_DISCOUNT, 1.0), 2), 1.0)
    quantity = 1 + rng.poisson(np.maximum(amount / _column("item_price")[p] - 1, 0))
    first_order = np.where(counts[customer] >= 2, slot == 1, slot == 0)
    coupon = _coupon_codes(rng, has_coupon, first_order, local_days, month)
    return {"customer": customer, "at": at, "amount": amount, "quantity": quantity, "coupon": coupon, "starts": starts}


_COUPONS = np.array(["", "WELCOME10", "BLACKFRIDAY20", "XMAS15", "SUMMER10", "SAVE10", "FREESHIP"], dtype=object)


def _coupon_codes(rng, has_coupon, first_order, local_days, month):
    """Index into _COUPONS per purchase: seasonal codes in season, a welcome code on first orders."""
    day_of_month = (local_days - local_days.astype("datetime64[M]")).astype(np.int64) + 1
    everyday = 5 + (rng.random(has_coupon.size) < 0.4)  # SAVE10 or FREESHIP
    code = np.select(
        [~has_coupon, first_order, (month == 10) & (day_of_month >= 22), month == 11, (month >= 5) & (month <= 7)],
        [0, 1, 2, 3, 4],
        default=everyday,
    )
    return code.astype(np.int8)


def _draw_returns(rng, persona, purchases, end):
    """Returns of a few purchases, a day or more after them, never after `end`."""
    p = persona[purchases["customer"]]
    source = np.flatnonzero(rng.random(p.size) < _column("return_rate")[p])
    delay_seconds = np.round((1 + rng.exponential(_RETURN_DELAY_DAYS, size=source.size)) * _SECONDS_PER_DAY)
    at = purchases["at"][source] + (delay_seconds * _NS_PER_SECOND).astype(np.int64)
    full = rng.random(source.size) < _FULL_RETURN_SHARE
    fraction = np.where(full, 1.0, rng.uniform(0.2, 0.9, size=source.size))
    amount = -np.maximum(np.round(purchases["amount"][source] * fraction, 2), 0.01)
    quantity = -np.maximum(np.round(purchases["quantity"][source] * fraction), 1).astype(np.int64)
    kept = at <= _end_of_day_ns(end)  # not returned yet
    return {
        "customer": purchases["customer"][source][kept],
        "at": at[kept],
        "amount": amount[kept],
        "quantity": quantity[kept],
    }


# --- frames ----------------------------------------------------------------------------


def _orders_frame(purchases, returns, customer_ids):
    n_purchases = purchases["at"].size
    at = np.concatenate([purchases["at"], returns["at"]])
    order = np.argsort(at, kind="stable")  # order numbers follow time, like a real shop's
    customer = np.concatenate([purchases["customer"], returns["customer"]])[order]
    is_return = (np.arange(at.size) >= n_purchases)[order]
    coupon = np.concatenate([purchases["coupon"], np.zeros(returns["at"].size, dtype=np.int8)])[order]
    return pd.DataFrame(
        {
            "external_id": pd.array(_numbered("O", np.arange(1, at.size + 1), width=max(7, len(str(at.size)))), dtype="str"),
            "customer_id": pd.array(customer_ids[customer], dtype="str"),
            "ordered_at": pd.to_datetime(at[order], utc=True, unit="ns"),
            "amount": np.concatenate([purchases["amount"], returns["amount"]])[order],
            "quantity": np.concatenate([purchases["quantity"], returns["quantity"]])[order].astype(np.int64),
            "is_return": is_return,
            "coupon_code": pd.array(_COUPONS[coupon], dtype="str"),
        }
    )


def _customers_frame(rng, persona, country, tz, counts, purchases, customer_ids, first_day, horizon):
    n = persona.size
    first_name = rng.integers(0, len(_FIRST_NAMES), size=n)
    last_name = rng.integers(0, len(_LAST_NAMES), size=n)
    emails = _emails(rng, first_name, last_name)
    has_email = rng.random(n) >= _NO_EMAIL_SHARE
    phones = _phones(rng, country)
    has_phone = rng.random(n) >= _NO_PHONE_SHARE

    # Customers with orders signed up around their first purchase; the others at some point in the horizon.
    first_purchase = np.full(n, np.iinfo(np.int64).min)
    buyers = counts > 0
    if buyers.any():
        first_purchase[buyers] = np.minimum.reduceat(purchases["at"], purchases["starts"][buyers])
    horizon_start = first_day.astype("datetime64[ns]").astype(np.int64)
    signup = np.where(buyers, first_purchase, horizon_start + rng.integers(0, horizon * _SECONDS_PER_DAY, size=n) * _NS_PER_SECOND)

    email_consent, email_at, email_source = _consents(rng, persona, has_email, signup, buyers, horizon_start, "email_consent")
    sms_consent, sms_at, sms_source = _consents(rng, persona, has_phone, signup, buyers, horizon_start, "sms_consent")
    countries = np.array([c[0] for c in _COUNTRIES], dtype=object)
    locales = np.array([c[3] for c in _COUNTRIES], dtype=object)
    zones = np.array(_TIME_ZONES, dtype=object)
    return pd.DataFrame(
        {
            "external_id": pd.array(customer_ids, dtype="str"),
            "first_name": pd.array(np.array(_FIRST_NAMES, dtype=object)[first_name], dtype="str"),
            "last_name": pd.array(np.array(_LAST_NAMES, dtype=object)[last_name], dtype="str"),
            "email": pd.array(np.where(has_email, emails, ""), dtype="str"),
            "phone": pd.array(np.where(has_phone, phones, ""), dtype="str"),
            "country": pd.array(countries[country], dtype="str"),
            "time_zone": pd.array(zones[tz], dtype="str"),
            "locale": pd.array(locales[country], dtype="str"),
            "email_consent": email_consent,
            "email_consent_at": email_at,
            "email_consent_source": pd.array(email_source, dtype="str"),
            "sms_consent": sms_consent,
            "sms_consent_at": sms_at,
            "sms_consent_source": pd.array(sms_source, dtype="str"),
            # Numeric attributes (imported into Customer.attributes) that a segmentation can try.
            "complains": rng.poisson(_column("complains")[persona]).astype(np.int64),
            "age": np.clip(np.round(rng.normal(42, 13, size=n)), 18, 90).astype(np.int64),
        }
    )


def _consents(rng, persona, reachable, signup, buyers, horizon_start, field):
    n = persona.size
    consent = reachable & (rng.random(n) < _column(field)[persona])
    at_checkout = buyers & (rng.random(n) < _CHECKOUT_CONSENT_SHARE)
    # Form sign-ups happen before the first purchase, up to two months earlier.
    before = rng.integers(0, 60 * _SECONDS_PER_DAY, size=n) * _NS_PER_SECOND
    at = np.where(at_checkout, signup, np.maximum(signup - np.where(buyers, before, 0), horizon_start))
    timestamps = pd.to_datetime(np.where(consent, at, np.iinfo(np.int64).min), utc=True, unit="ns")
    source = np.where(consent, np.where(at_checkout, "checkout", "form"), "").astype(object)
    return consent, timestamps, source


_TIME_ZONES = tuple(zone for c in _COUNTRIES for zone, _ in c[2])


def _draw_places(rng, n):
    """Country index and time-zone index (into _TIME_ZONES) per customer."""
    shares = np.array([c[1] for c in _COUNTRIES])
    country = rng.choice(len(_COUNTRIES), size=n, p=shares / shares.sum())
    # Within a country, the zone: cumulative shares over the flattened zone table.
    zone_country = np.array([i for i, c in enumerate(_COUNTRIES) for _ in c[2]])
    zone_share = np.array([s for c in _COUNTRIES for _, s in c[2]])
    zone_start = np.searchsorted(zone_country, np.arange(len(_COUNTRIES)))
    cumulative = np.concatenate([np.cumsum(zone_share[zone_country == i]) for i in range(len(_COUNTRIES))])
    u = rng.random(n)
    offset = np.zeros(n, dtype=np.int64)
    for i, c in enumerate(_COUNTRIES):  # a handful of countries, not customers
        mask = country == i
        cum = cumulative[zone_start[i] : zone_start[i] + len(c[2])]
        offset[mask] = np.minimum(np.searchsorted(cum, u[mask], side="right"), len(c[2]) - 1)
    return country, zone_start[country] + offset


def _local_to_utc(local_ns, tz):
    out = np.empty_like(local_ns)
    for index, zone in enumerate(_TIME_ZONES):  # one vectorised conversion per zone
        mask = tz == index
        if not mask.any():
            continue
        stamps = pd.DatetimeIndex(local_ns[mask].view("datetime64[ns]"))
        # Ambiguous autumn hours read as standard time; spring's missing hour moves forward.
        converted = stamps.tz_localize(zone, ambiguous=np.zeros(mask.sum(), dtype=bool), nonexistent="shift_forward")
        out[mask] = converted.tz_convert("UTC").as_unit("ns").asi8
    return out


def _end_of_day_ns(end):
    return (np.datetime64(end, "D") + 1).astype("datetime64[ns]").astype(np.int64) - _NS_PER_SECOND


# --- strings ---------------------------------------------------------------------------


def _numbered(prefix: str, numbers: np.ndarray, *, width: int) -> np.ndarray:
    """prefix + zero-padded numbers, as an object array of str.

    Creating millions of Python strings is the expensive part of a large shop; decoding one
    byte buffer and splitting it makes them in C, about five times faster than formatting.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    buffer = np.empty((numbers.size, head.size + width + 1), dtype=np.uint8)
    buffer[:, : head.size] = head
    buffer[:, -1] = ord("\n")
    rest = numbers.copy()
    for position in range(head.size + width - 1, head.size - 1, -1):
        buffer[:, position] = rest % 10 + ord("0")
        rest //= 10
    if numbers.size and rest.any():
        raise ValueError(f"numbers do not fit in {width} digits")
    out = np.empty(numbers.size, dtype=object)
    if numbers.size:
        out[:] = buffer.tobytes().decode("ascii").split("\n")[:-1]
    return out


def _ascii_slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _emails(rng, first_name, last_name):
    """Unique, lower-case addresses: the customer's number makes two Emma Smiths distinct."""
    n = first_name.size
    firsts = np.array([_ascii_slug(x) for x in _FIRST_NAMES], dtype=object)[first_name]
    lasts = np.array([_ascii_slug(x) for x in _LAST_NAMES], dtype=object)[last_name]
    initials = np.array([_ascii_slug(x)[0] for x in _FIRST_NAMES], dtype=object)[first_name]
    style = rng.integers(0, 3, size=n)
    local = np.where(style == 0, firsts + "." + lasts, np.where(style == 1, firsts + lasts, initials + "." + lasts))
    number = _numbered("", np.arange(1, n + 1), width=len(str(max(n, 1))))
    domain = np.array(_EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(_EMAIL_DOMAINS), size=n)]
    return local + number + "@" + domain


def _phones(rng, country):
    """A valid mobile number (E.164) for every customer, from its country's plan."""
    out = np.empty(country.size, dtype=object)
    for index, (_, _, _, _, plans) in enumerate(_COUNTRIES):
        mask = np.flatnonzero(country == index)
        if not mask.size:
            continue
        plan = rng.integers(0, len(plans), size=mask.size)
        for p, (prefix, digits) in enumerate(plans):
            rows = mask[plan == p]
            out[rows] = _numbered(prefix, rng.integers(0, 10**digits, size=rows.size), width=digits)
    return out
