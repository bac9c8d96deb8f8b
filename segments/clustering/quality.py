"""Whether segments are fit to act on: the flags a result carries, in words and in codes.

A flag is {"code": ..., "message": ...}: the code is for programs (a draft of segments may go live
only when fit_to_apply() says so), the message for the shop owner. Flags are plain dicts so a run
stores them as JSON and older runs' flags are judged by today's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .wording import fmt

# A segment holding more than this share of the customers is nearly everyone: a campaign to it
# is a campaign to the whole shop.
LARGEST_SHARE = 0.80
# A segment below this share is a handful of unusual customers, not a group to plan for.
SMALLEST_SHARE = 0.01
# A feature missing for more than this share of customers: its segments mostly reflect the
# value that stood in for the missing ones (the median).
MOSTLY_MISSING = 0.5

# Flags that make a result unfit to apply. The others (a feature left out because it was the
# same for everyone, customers that do not fall into distinct groups) inform.
BLOCKING = frozenset({"dominant_segment", "tiny_segment", "mostly_missing_feature", "unreliable_segments"})


def flag(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def fit_to_apply(flags: Iterable[Mapping]) -> bool:
    """True when no flag makes the result unfit to go live (see BLOCKING)."""
    return not blocking_flags(flags)


def blocking_flags(flags: Iterable[Mapping]) -> list[Mapping]:
    """The flags that keep a result from going live, in their order."""
    return [f for f in flags if f.get("code") in BLOCKING]


def size_flags(profiles: Sequence[Mapping], *, rule: bool = False) -> list[dict]:
    """Each segment above LARGEST_SHARE of the customers, and each below SMALLEST_SHARE.

    profiles: one per segment with its "name" and "size" (as a run stores them). A rule's
    segments (rule=True: the RFM grid) and HDBSCAN's outliers ("noise") are small by design.
    """
    total = sum(p["size"] for p in profiles)
    if total == 0:
        return []
    flags = []
    for p in profiles:
        name, share = p["name"], p["size"] / total
        if share > LARGEST_SHARE:
            flags.append(
                flag(
                    "dominant_segment",
                    f"The segment {name!r} holds {share:.0%} of your customers: it is nearly everyone, so a "
                    "campaign to it is a campaign to the whole shop. Try other features or more segments.",
                )
            )
        elif share < SMALLEST_SHARE and not (rule or p.get("noise")):
            flags.append(
                flag(
                    "tiny_segment",
                    f"The segment {name!r} holds only {_small_share(share)} of your customers ({p['size']:,}): "
                    "a handful of unusual customers rather than a group to plan campaigns for.",
                )
            )
    return flags


def resized_flags(flags: Sequence[Mapping], profiles: Sequence[Mapping]) -> list[dict]:
    """A result's flags once its segments changed size (an incremental run placed some customers):
    the flags of the model stay, the size flags are those of the new sizes."""
    kept = [dict(f) for f in flags if f.get("code") not in ("dominant_segment", "tiny_segment")]
    return kept + size_flags(profiles)


def missing_flags(missing: Mapping[str, float]) -> list[dict]:
    """Each feature missing for more than MOSTLY_MISSING of the customers (missing: share by name)."""
    return [
        flag(
            "mostly_missing_feature",
            f"{name!r} is missing for {share:.0%} of your customers. They were given the typical value, so "
            f"segments that differ in {name!r} mostly tell who has it from who does not. Fill it in or leave it out.",
        )
        for name, share in missing.items()
        if share > MOSTLY_MISSING
    ]


def constant_flags(constant: Mapping[str, float]) -> list[dict]:
    """Each feature left out because every customer has the same value (constant: value by name)."""
    return [
        flag(
            "constant_feature_left_out",
            f"{name!r} is {fmt(value)} for every customer, so it cannot tell customers apart and was left out.",
        )
        for name, value in constant.items()
    ]


def _small_share(share: float) -> str:
    return f"{share:.1%}" if share >= 0.001 else "under 0.1%"
