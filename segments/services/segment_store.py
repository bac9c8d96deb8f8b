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
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from segments import clustering
from segments.models import Segment, SegmentationRun


NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length


class SegmentNameTaken(ValueError):
    """Another live segment already has this name (case aside); the message says so in words."""


# The run warning for a renamed segment whose customers changed materially (clustering/drift.py).
PROFILE_CHANGED = "renamed_segment_changed"


def segments_plan(profiles: list[dict], *, auto_names: dict[int, str], keys: dict[int, str | None]) -> None:
    """Give each profile the key, name and segment id its segment would have live; writes nothing.

    keys: label -> the key of the segment the label continues (matched to the previous run's,
    or the RFM rule's), None for a new segment. A draft shows these; segments_apply makes them
    so. The profile keeps `auto_name`, the name from its profile, for when it goes live.
    """
    existing = {s.key: s for s in Segment.objects.filter(key__in=[key for key in keys.values() if key])}
    ordered = sorted(profiles, key=lambda p: p["label"])
    segments = [existing.get(keys.get(p["label"]) or "") for p in ordered]
    names = _live_names(segments, [auto_names[p["label"]] for p in ordered])
    taken_keys: set[str] = set()
    for p, segment, name in zip(ordered, segments, names):
        label, key = p["label"], keys.get(p["label"])
        if key is None:
            key = _unique_key(slugify(name) or f"segment-{label}", taken_keys)
        taken_keys.add(key)
        p.update(key=key, name=name, auto_name=auto_names[label], segment_id=segment.pk if segment else None)


def _live_names(segments: list[Segment | None], auto_names: list[str]) -> list[str]:
    """The name each planned segment goes live with, no two alike (case aside).

    Names a marketer gave are kept (numbered only in the rare clash of two of them: a retired
    segment renamed while another had the name, and revived) and are taken first; every other
    segment is named from today's profile, so a segment whose customers drifted from "New" to
    "Loyal" says so.
    """
    names: list[str | None] = [None] * len(segments)
    taken: set[str] = set()
    for i, segment in enumerate(segments):
        if segment is not None and segment.name_locked:
            names[i] = _unique(segment.name, taken)
            taken.add(names[i].lower())
    for i, auto_name in enumerate(auto_names):
        if names[i] is None:
            names[i] = _unique(auto_name, taken)
            taken.add(names[i].lower())
    return names


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
    keys = {p["key"] for p in profiles}
    existing = {s.key: s for s in Segment.objects.filter(key__in=keys)}
    _retire_except(keys)
    _step_out_of_live(keys)
    centroids = run.model_state.get("centroids") or {}
    found = [existing.get(p["key"]) for p in profiles]
    names = _live_names(found, [p["auto_name"] for p in profiles])
    segments: dict[str, Segment] = {}
    for p, segment, name in zip(profiles, found, names):
        if segment is None:
            segment = Segment(key=p["key"], name=name, first_run=run)
        segment.name = name
        if p["key"] in changed:
            segment.profile_changed, segment.profile_change = True, changed[p["key"]]
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


def _step_out_of_live(keys: set[str]) -> None:
    """Mark the segments a run is about to save as not live, for the instant until each is saved.

    No two live segments share a name (the live_segment_names_unique constraint, which the
    database checks row by row as it writes): two segments that swap names, or a name a retired
    segment takes back, would clash half-way through. Out of the live set they cannot; `_refresh`
    makes each live again, with its final name, in the run's transaction.
    """
    Segment.objects.filter(key__in=keys, is_active=True).update(is_active=False)


def _retire_except(keys: set[str]) -> None:
    now: dt.datetime = timezone.now()
    Segment.objects.filter(is_active=True).exclude(key__in=keys).update(is_active=False, retired_at=now, size=0)


def _unique(name: str, taken: set[str], *, separator: str = " ") -> str:
    """`name`, or `name 2`, `name 3` ... (with `separator`), whichever is not taken yet.

    `taken` holds lower-cased names: "loyal" takes "Loyal" too, as it does for campaigns,
    which find a segment by its name whatever the case.
    """
    if name.lower() not in taken:
        return name
    n = 2
    while f"{name}{separator}{n}".lower() in taken:
        n += 1
    suffix = f"{separator}{n}"
    return name[: NAME_MAX_LENGTH - len(suffix)] + suffix


def live_name_taken(name: str, *, exclude_pk: int | None = None) -> bool:
    """Whether another live segment is called `name` (case aside)."""
    others = Segment.objects.filter(is_active=True, name__iexact=name.strip())
    return others.exclude(pk=exclude_pk).exists() if exclude_pk is not None else others.exists()


def name_taken_message(name: str) -> str:
    return (
        f"Another live segment is already called \u201c{name.strip()}\u201d. Choose a different name, so that "
        "campaigns and reports can tell the two apart."
    )


def segment_rename(*, segment: Segment, name: str, description: str | None = None) -> Segment:
    """A marketer names the segment: the name sticks through later runs (name_locked).

    Raises SegmentNameTaken when another live segment has the name; a retired segment may share
    a live one's name (it is listed apart, and campaigns look among live segments only).
    """
    name = name.strip()
    if segment.is_active and live_name_taken(name, exclude_pk=segment.pk):
        raise SegmentNameTaken(name_taken_message(name))
    if name != segment.name:
        segment.name, segment.name_locked = name, True
    if description is not None:
        segment.description = description
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        # Two people gave two segments one name at the same moment: the constraint stopped
        # the second, and it is told so in words rather than with a database error.
        raise SegmentNameTaken(name_taken_message(name)) from None
    return segment


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
