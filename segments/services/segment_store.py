"""Segment rows: created, updated and retired by runs so that a segment keeps its identity.

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

from segments.models import Algorithm, Segment, SegmentationRun


def cluster_segments_save(
    *, run: SegmentationRun, profiles: list[dict], auto_names: dict[int, str], centroids: np.ndarray,
    matches: dict[int, str | None],
) -> dict[int, Segment]:
    """Create, update and retire segments so matched clusters keep key, name and rules."""
    by_label = {p["label"]: p for p in profiles}
    matched_keys = {key for key in matches.values() if key}
    kept = {s.key: s for s in Segment.objects.filter(key__in=matched_keys)}
    _retire_except(matched_keys)
    # Names a marketer gave are kept; every other segment is named from today's profile, so
    # a segment whose customers drifted from "New" to "Loyal" says so.
    taken_names = {s.name for s in kept.values() if s.name_locked}
    segments: dict[int, Segment] = {}
    for label in sorted(by_label):
        key = matches.get(label)
        if key:
            segment = kept[key]
            if not segment.name_locked:
                segment.name = _unique(auto_names[label], taken_names)
        else:
            name = _unique(auto_names[label], taken_names)
            segment = Segment(
                key=_unique_key(slugify(name) or f"segment-{label}"), name=name, algorithm=run.algorithm, first_run=run
            )
        taken_names.add(segment.name)
        segment.algorithm = run.algorithm
        segment.centroid = centroids[label].round(6).tolist()
        _refresh(segment, run, by_label[label])
        segments[label] = segment
    return segments


def rfm_segments_save(*, run: SegmentationRun, profiles: list[dict], names: list[str]) -> dict[int, Segment]:
    """The classic RFM segments: each rule's name is its identity (key rfm-<name>), no model to match."""
    keys = {label: f"rfm-{slugify(name)}" for label, name in enumerate(names)}
    _retire_except(set(keys.values()))
    segments = {}
    for profile in profiles:
        label = profile["label"]
        segment, _ = Segment.objects.get_or_create(
            key=keys[label], defaults={"name": names[label], "algorithm": Algorithm.RFM, "first_run": run}
        )
        segment.centroid = []
        _refresh(segment, run, profile)
        segments[label] = segment
    return segments


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


def _unique_key(base: str) -> str:
    # Keys are slugs: numbered with a hyphen, and compared with the stored keys as such.
    existing = set(Segment.objects.filter(key__startswith=base).values_list("key", flat=True))
    return _unique(base, existing, separator="-")


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
