"""What a template sees: plain data built in bulk for a batch of messages, never model instances."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils import formats

from campaigns.models import Rule
from campaigns.rendering import CustomerData, OfferData, SegmentData, ShopData
from segments.models import Segment

_SCORE_POINTS = 4  # quintile edges


def customers_data(frame: pd.DataFrame, *, edges: dict, now: dt.datetime) -> dict[int, CustomerData]:
    """CustomerData per customer id from segments.selectors.message_data_frame's rows."""
    if frame.empty:
        return {}
    bought = frame["frequency"].fillna(0).to_numpy(dtype=np.int64) > 0
    last = pd.to_datetime(frame["last_order_at"], utc=True)
    recency = np.where(bought, (pd.Timestamp(now) - last).dt.days.fillna(0).to_numpy(), 0).astype(np.int64)
    frequency = frame["frequency"].fillna(0).to_numpy(dtype=np.int64)
    monetary = np.where(bought, frame["monetary"].fillna(0).to_numpy(dtype=np.float64), 0.0)
    r = _scores(-recency.astype(np.float64), edges.get("r"), bought)
    f = _scores(frequency.astype(np.float64), edges.get("f"), bought)
    m = _scores(monetary, edges.get("m"), bought)
    result = {}
    columns = zip(
        frame.index, frame["first_name"], frame["last_name"], frame["email"], frame["phone"], frame["country"],
        frame["attributes"], recency, frequency, monetary, r, f, m,
    )
    for customer_id, first, last_name, email, phone, country, attributes, rec, freq, money, rs, fs, ms in columns:
        result[int(customer_id)] = CustomerData(
            first_name=first, last_name=last_name, email=email, phone=phone, country=country,
            attributes=attributes, recency_days=int(rec), frequency=int(freq), monetary=round(float(money), 2),
            r_score=int(rs), f_score=int(fs), m_score=int(ms), rfm_code=f"{rs}{fs}{ms}",
        )
    return result


def _scores(values: np.ndarray, edges: list[float] | None, bought: np.ndarray) -> np.ndarray:
    """Quintile scores 1..5 against the shop's edges; 1 for customers who never bought."""
    if not edges or len(edges) != _SCORE_POINTS:
        return np.where(bought, 3, 1)
    return np.where(bought, 1 + np.searchsorted(np.asarray(edges), values, side="right"), 1).clip(1, 5)


def segment_data(segment: Segment | None) -> SegmentData:
    if segment is None:
        return SegmentData()
    profile = (segment.profile or {}).get("median", {})
    return SegmentData(name=segment.name, description=segment.description or (segment.profile or {}).get(
        "description", ""), profile=dict(profile), key=segment.key)


def offer_data(rule: Rule | None, *, now: dt.datetime) -> OfferData | None:
    """The rule's offer, its expiry written as the shop writes dates; None when it has none."""
    if rule is None or not (rule.offer_code or rule.offer_discount):
        return None
    expires = ""
    if rule.offer_expires_days:
        expires = formats.date_format((now + dt.timedelta(days=rule.offer_expires_days)).date(), "j F Y")
    return OfferData(code=rule.offer_code, discount=rule.offer_discount, expires_at=expires)


def shop_data() -> ShopData:
    return ShopData(name=settings.SHOP_NAME)
