"""A starter campaign written for the segments a run found: what `manage.py demo` loads.

The best customers (the segment spending the most) get a thank-you email in two variants
(an A/B test); the customers who bought longest ago (the segment with the longest median
recency) get a win-back SMS.
Built as a campaign file (campaigns as JSON), so it goes through the same checks as any.
"""

from __future__ import annotations

STARTER_NAME = "Starter campaign"

_UNSUBSCRIBE = '<p style="font-size:12px;color:#666">Not for you? <a href="{{ links.unsubscribe }}">Unsubscribe</a></p>'


def starter_definition(profiles: list[dict], *, shop_url: str) -> dict:
    """The campaign file for a run's segment profiles (each with key, median and size)."""
    with_orders = [p for p in profiles if (p.get("median") or {}).get("frequency")]
    if not with_orders:
        raise ValueError("no segment has customers with orders: nothing to write a starter campaign for")
    best = max(with_orders, key=lambda p: p["median"].get("monetary") or 0)
    winback = max([p for p in with_orders if p is not best] or [best], key=lambda p: p["median"].get("recency_days") or 0)
    return {
        "name": STARTER_NAME,
        "description": "Thank the best customers by email (two subject lines, A/B) and win back lapsed "
                       "ones by SMS. Written by `manage.py demo` for the segments it found.",
        "holdout_percent": 10,
        "attribution_days": 7,
        "goal": {"kind": "any_order"},
        "quiet_hours": None,
        "frequency_cap": {"messages": 2, "days": 7},
        "templates": [
            {"name": "starter-thanks-a", "channel": "email",
             "subject": "Thank you, {{ customer.first_name or 'friend' }}",
             "html": f'<p>Hi {{{{ customer.first_name or "there" }}}},</p><p>You are one of our best customers: '
                     f'here is {{{{ offer.discount }}}} off your next order with the code <b>{{{{ offer.code }}}}</b>'
                     f' (until {{{{ offer.expires_at }}}}).</p><p><a href="{shop_url}">Visit the shop</a></p>'
                     + _UNSUBSCRIBE,
             "text": ""},
            {"name": "starter-thanks-b", "channel": "email",
             "subject": "{{ offer.discount }} off, just for you",
             "html": f'<p>{{{{ customer.first_name or "Hello" }}}}, thank you for your {{{{ customer.frequency }}}} '
                     f'orders. Use <b>{{{{ offer.code }}}}</b> for {{{{ offer.discount }}}} off.</p>'
                     f'<p><a href="{shop_url}">Shop now</a></p>' + _UNSUBSCRIBE,
             "text": ""},
            {"name": "starter-winback", "channel": "sms",
             "body": "We miss you{{ ', ' ~ customer.first_name if customer.first_name }}! {{ offer.discount }} off "
                     "with {{ offer.code }} at " + shop_url},
        ],
        "rules": [
            {"segments": [best["key"]], "channel": "email", "priority": 1,
             "variants": [{"template": "starter-thanks-a", "weight": 1}, {"template": "starter-thanks-b", "weight": 1}],
             "offer": {"code": "THANKS10", "discount": "10%", "expires_days": 14}},
            {"segments": [winback["key"]], "channel": "sms", "priority": 2,
             "variants": [{"template": "starter-winback", "weight": 1}],
             "offer": {"code": "BACK15", "discount": "15%", "expires_days": 30}},
        ],
    }
