"""What a segment means to a marketer: its colour on every page and the action it suggests.

Pure: segment keys, names and profiles in, colours and words out. A segment's key never changes
(segment_store makes it from the first name the run gave it, "at-risk", "champions-2",
"rfm-lost"), so a colour derived from the key stays with the segment across refits and renames.
Segments named with the RFM vocabulary (clustering/naming.py, clustering/rfm.py) get a colour
that means something (champions green, at risk amber, lost grey) and an action that suits them;
any other segment gets a colour of its own from a fixed palette and an action read from its
profile.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    colour: str
    action: str  # the short suggestion on a card: "Win back with a discount"
    detail: str  # one sentence on how


# Most specific first: "potential-loyalist" before "loyal". Colours: greens for the best customers,
# blues for new and growing ones, ambers and reds for those slipping away, greys for the gone.
FAMILIES: dict[str, Family] = {
    "champions": Family("#1b7837", "Reward them", "Early access, a loyalty perk or a referral ask; they need no discount."),
    "potential-loyalist": Family("#35978f", "Make them regulars", "A loyalty or membership offer with their next order."),
    "loyal": Family("#5aae61", "Keep them close", "New arrivals, loyalty points and an upsell to better products."),
    "new": Family("#2166ac", "Welcome them", "A welcome series and a small incentive for a second order."),
    "promising": Family("#67a9cf", "Build the habit", "Recommendations and a time-limited offer on a second purchase."),
    "need-attention": Family("#d8b365", "Re-engage them", "A personal recommendation and a limited-time offer."),
    "about-to-sleep": Family("#bf812d", "Wake them up", "Best sellers and a modest discount before they drift away."),
    "at-risk": Family("#e08214", "Win back with a discount", "A 'we miss you' message with a discount on their next order."),
    "cannot-lose-them": Family("#b2182b", "Win them back personally", "A generous offer, and ask what went wrong."),
    "hibernating": Family("#969696", "Remind them now and then", "A seasonal offer at most; do not over-mail them."),
    "lost": Family("#525252", "One last win-back offer", "One strong discount, then stop mailing them to protect deliverability."),
    "big-spenders": Family("#762a83", "Pamper them", "Premium products and personal service rather than discounts."),
    "bargain-hunters": Family("#c51b7d", "Send them deals", "Sales, bundles and free-shipping thresholds."),
    "not-yet-purchased": Family("#bababa", "Get a first order", "A first-order discount and a reminder of your best sellers."),
    "hardly-purchased": Family("#8c6d31", "Give them a reason to buy", "A first-order-style discount on something they will keep."),
    "outliers": Family("#252525", "Check them by hand", "They fit no segment: look at a few before any campaign."),
}
# Segments named by their features ("High money_spent, few complains"): a palette without the
# meaningful colours above, so no such segment looks like champions or lost customers.
OTHER_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#bcbd22", "#8c564b", "#d62728", "#7f7f7f", "#2ca02c")
NEW_CUSTOMERS_COLOUR = "#d9d9d9"
GENERIC_ACTION = Family("", "Try a tailored offer", "Test an offer on them, keeping a hold-out group to measure what it changed.")
LAPSED_ACTION = Family("", "Win back with a discount", "They have not bought for longer than most: a 'we miss you' offer.")
VALUABLE_ACTION = Family("", "Reward them", "They spend more than most: a perk or early access rather than a discount.")

_SLUG = re.compile(r"[^a-z0-9]+")


def family(key: str | None, name: str | None = None) -> str | None:
    """The RFM family of a segment ("at-risk") from its key, else its name; None for others.

    Keys are the slug of the segment's first name ("champions-higher-spend", "rfm-lost",
    "at-risk-2"), so the key answers even after a marketer renamed the segment "VIPs".
    """
    for text in (key, name):
        slug = _SLUG.sub("-", (text or "").lower()).strip("-")
        slug = slug.removeprefix("rfm-")
        for candidate in FAMILIES:
            if slug == candidate or slug.startswith(candidate + "-"):
                return candidate
    return None


def segment_colours(keys: Iterable[str], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """One colour per segment key, the same on every page and after every refit.

    A segment of an RFM family takes its family's colour; two of one family (Champions with
    higher and with lower spend) are told apart by shade, in the order of their keys. Any other
    segment takes a palette colour picked by its key's checksum, the next free one when two
    segments of the run would share it.
    """
    names = names or {}
    keys = sorted(set(keys))
    colours: dict[str, str] = {}
    by_family: dict[str, list[str]] = {}
    others = []
    for key in keys:
        found = family(key, names.get(key))
        if found:
            by_family.setdefault(found, []).append(key)
        else:
            others.append(key)
    for found, members in by_family.items():
        base = FAMILIES[found].colour
        for i, key in enumerate(members):
            colours[key] = shade(base, i)
    taken: set[str] = set()
    for key in others:
        start = zlib.crc32(key.encode()) % len(OTHER_COLOURS)
        for step in range(len(OTHER_COLOURS)):
            colour = OTHER_COLOURS[(start + step) % len(OTHER_COLOURS)]
            if colour not in taken:
                break
        else:
            colour = OTHER_COLOURS[start]  # more segments than colours: the legend tells them apart
        taken.add(colour)
        colours[key] = colour
    return colours


def shade(colour: str, index: int) -> str:
    """The colour itself (index 0), then alternately lighter and darker versions of it."""
    if index == 0:
        return colour
    step = (index + 1) // 2 * 0.3
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    if index % 2:  # towards white
        red, green, blue = (round(c + (255 - c) * min(step, 0.8)) for c in (red, green, blue))
    else:  # towards black
        red, green, blue = (round(c * (1 - min(step, 0.8))) for c in (red, green, blue))
    return f"#{red:02x}{green:02x}{blue:02x}"


def suggested_action(key: str | None, name: str | None = None, profile: Mapping | None = None) -> Family:
    """What to do with a segment: its RFM family's action, else one read from its profile.

    A profile without the RFM vocabulary still says whether its customers bought long ago
    (recency percentile) or spend much (monetary percentile) compared with everyone.
    """
    found = family(key, name)
    if found:
        return FAMILIES[found]
    percentile = (profile or {}).get("percentile") or {}
    recency, spend = percentile.get("recency_days"), percentile.get("monetary")
    if recency is not None and recency >= 70:
        return LAPSED_ACTION
    if spend is not None and spend >= 70:
        return VALUABLE_ACTION
    return GENERIC_ACTION
