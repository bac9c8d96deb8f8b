"""What a message template can see: plain data, never model instances.

A template sees five names:

- `customer`: CustomerData (name, contact, country, imported attributes, RFM features)
- `segment`: SegmentData (the segment the customer is in)
- `offer`: OfferData (absent when the rule that picked the template gives no offer: a
  template that uses it then fails to render for that message instead of printing an empty
  coupon code)
- `links`: a dict of URLs; `links.unsubscribe` is required for email and is the one-click
  unsubscribe URL (it is never rewritten into a tracked link); any others (`links.shop`,
  ...) are up to the caller
- `shop`: ShopData

Build the mapping with `message_context(...)`. The segment, offer, links and shop objects may
be shared between all the messages of a run: the sandbox cannot modify them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class CustomerData:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    country: str = ""
    # Imported columns that are not customer fields, by column name (`customer.attributes.tier`).
    attributes: dict[str, Any] = field(default_factory=dict)
    recency_days: int = 0
    frequency: int = 0
    monetary: float = 0.0
    r_score: int = 0
    f_score: int = 0
    m_score: int = 0
    rfm_code: str = ""


@dataclass(slots=True)
class SegmentData:
    name: str = ""
    description: str = ""
    # The segment's profile in original units, by feature ({"recency_days": 12.0, ...}).
    profile: dict[str, Any] = field(default_factory=dict)
    key: str = ""


@dataclass(slots=True)
class OfferData:
    code: str = ""
    discount: str = ""  # as the reader should see it: "15%", "£5"
    expires_at: str = ""  # the last day the offer is valid, already formatted: "14 December 2026"


@dataclass(slots=True)
class ShopData:
    name: str = ""


CONTEXT_NAMES = ("customer", "segment", "offer", "links", "shop")

# What each object is called in a template, for error messages ("customer has no 'frist_name'").
LABELS: dict[type, str] = {CustomerData: "customer", SegmentData: "segment", OfferData: "offer", ShopData: "shop"}

# The fields of the fixed-shape objects, for checking `customer.frist_name` when a template
# is saved. `links` and the dicts inside (attributes, profile) have open keys.
SHAPES: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls))
    for name, cls in (("customer", CustomerData), ("segment", SegmentData), ("offer", OfferData), ("shop", ShopData))
}


def message_context(
    *,
    customer: CustomerData,
    segment: SegmentData,
    links: dict[str, str],
    shop: ShopData,
    offer: OfferData | None = None,
) -> dict[str, Any]:
    """The mapping a compiled template renders: one per message."""
    context: dict[str, Any] = {"customer": customer, "segment": segment, "links": links, "shop": shop}
    if offer is not None:
        context["offer"] = offer
    return context


SAMPLE_CONTEXT = message_context(
    customer=CustomerData(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+447700900123",
        country="GB",
        attributes={},
        recency_days=12,
        frequency=7,
        monetary=412.5,
        r_score=5,
        f_score=4,
        m_score=5,
        rfm_code="545",
    ),
    segment=SegmentData(
        name="Champions",
        description="Bought recently, buy often and spend the most",
        profile={"recency_days": 14.0, "frequency": 8.2, "monetary": 530.0},
        key="champions",
    ),
    offer=OfferData(code="SAMPLE10", discount="10%", expires_at="31 December 2026"),
    links={"unsubscribe": "https://shop.example.com/u/sample-token", "shop": "https://shop.example.com/"},
    shop=ShopData(name="Example Shop"),
)
