"""Segment rows: planned by runs, then created, updated and retired as a run goes live, so that
a segment keeps its identity.

A segment's key never changes and its name only when a marketer renames it (name_locked).
Campaign rules point at segments, so a refit that matches a cluster to a segment keeps the
rules working; a segment no cluster matched is retired, never deleted (memberships of past
runs and campaign history point at it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone
from django.utils.text import slugify

from segments import clustering
from segments.models import Segment, SegmentationRun


# The run warning for a renamed segment whose customers changed materially (clustering/drift.py).
PROFILE_CHANGED = "renamed_segment_changed"


def segments_plan(profiles: list[dict], *, auto_names: dict[int, str], keys: dict[int, str | None]) -> None:
    """Give each profile the key, name and segment id its segment would have live; writes nothing.

    keys: label -> the key of the segment the label continues (matched to the previous run's,
    or the RFM rule's), None for a new segment. A draft shows these; segments_apply makes them
    so. The profile keeps `auto_name`, the name from its profile, for when it goes live.
    """
    existing = {s.key: s for s in Segment.objects.filter(key__in=[key for key in keys.values() if key])}
    # Names a marketer gave are kept; every other segment is named from today's profile, so
    # a segment whose customers drifted from "New" to "Loyal" says so.
    taken_names = {s.name for s in existing.values() if s.name_locked}
    taken_keys: set[str] = set()
    for p in sorted(profiles, key=lambda p: p["label"]):
        label, key = p["label"], keys.get(p["label"])
        segment = existing.get(key) if key else None
        name = segment.name if segment is not None and segment.name_locked else _unique(auto_names[label], taken_names)
        if key is None:
            key = _unique_key(slugify(name) or f"segment-{label}", taken_keys)
        taken_names.add(name)
        taken_keys.add(key)
        p.update(key=key, name=name, auto_name=auto_names[label], segment_id=segment.pk if segment else None)


def rfm_key(name: str) -> str:
    """The key of a classic RFM segment: its rule's name is its identity."""
    return f"rfm-{slugify(name)}"


def segments_apply(run: SegmentationRun, *, changed: dict[str, str]) -> dict[str, Segment]:
    """Create, update and retire segments as the run's planned profiles say; returns them by key.

    Matched segments keep key, name (when a marketer gave it) and campaign rules; segments the
    run has no cluster for are retired. changed: key -> why a renamed segment needs a look
    (segments_changed), stored on the segment.
    """
    profiles = sorted(run.profiles, key=lambda p: p["label"])
    existing = {s.key: s for s in Segment.objects.filter(key__in=[p["key"] for p in profiles])}
    _retire_except({p["key"] for p in profiles})
    centroids = run.model_state.get("centroids") or {}
    taken_names = {s.name for s in existing.values() if s.name_locked}
    segments: dict[str, Segment] = {}
    for p in profiles:
        segment = existing.get(p["key"])
        if segment is None:
            segment = Segment(key=p["key"], name=_unique(p["auto_name"], taken_names), first_run=run)
        elif not segment.name_locked:
            segment.name = _unique(p["auto_name"], taken_names)
        if p["key"] in changed:
            segment.profile_changed, segment.profile_change = True, changed[p["key"]]
        taken_names.add(segment.name)
        segment.algorithm = run.algorithm
        segment.centroid = centroids.get(p["key"], [])
        _refresh(segment, run, p)
        segments[p["key"]] = segment
    return segments


def segments_changed(profiles: list[dict], *, run_id: int, currency: str) -> dict[str, str]:
    """key -> what changed, for each renamed segment whose customers these profiles change
    materially (clustering.profile_drift against the segment's live profile)."""
    locked = Segment.objects.filter(key__in=[p["key"] for p in profiles], name_locked=True)
    before = {s.key: s for s in locked}
    changed = {}
    for p in profiles:
        segment = before.get(p["key"])
        drift = clustering.profile_drift(segment.profile, p) if segment is not None else []
        if drift:
            changed[p["key"]] = clustering.drift_message(
                segment.name, drift, run_id=run_id, currency=currency, new_name=p.get("auto_name", "")
            )
    return changed


def changed_flags(changed: dict[str, str]) -> list[dict]:
    return [{"code": PROFILE_CHANGED, "message": message} for message in changed.values()]


def _refresh(segment: Segment, run: SegmentationRun, profile: dict) -> None:
    segment.profile = jsonable(profile)
    segment.size = int(profile["size"])
    segment.last_run = run
    segment.is_active, segment.retired_at = True, None
    segment.save()


def segment_sizes_save(sizes: dict[int, int], *, segment_ids) -> None:
    Segment.objects.bulk_update([Segment(pk=pk, size=sizes.get(pk, 0)) for pk in segment_ids], ["size"])


def _retire_except(keys: set[str]) -> None:
    now: dt.datetime = timezone.now()
    Segment.objects.filter(is_active=True).exclude(key__in=keys).update(is_active=False, retired_at=now, size=0)


def _unique(name: str, taken: set[str], *, separator: str = " ") -> str:
    """`name`, or `name 2`, `name 3` ... (with `separator`), whichever is not taken yet."""
    if name not in taken:
        return name
    n = 2
    while f"{name}{separator}{n}" in taken:
        n += 1
    return f"{name}{separator}{n}"


def _unique_key(base: str, planned: set[str] = frozenset()) -> str:
    # Keys are slugs: numbered with a hyphen, and compared with the stored keys (and those
    # planned for the run's other new segments) as such.
    existing = set(Segment.objects.filter(key__startswith=base).values_list("key", flat=True))
    return _unique(base, existing | set(planned), separator="-")


def jsonable(value):
    """NumPy and pandas scalars out, so the value can go into a JSONField."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
