"""Segment rows: created, updated and retired by runs so that a segment keeps its identity.

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

from segments.models import Algorithm, Segment, SegmentationRun

NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length


class SegmentNameTaken(ValueError):
    """Another live segment already has this name (case aside); the message says so in words."""


def cluster_segments_save(
    *, run: SegmentationRun, profiles: list[dict], auto_names: dict[int, str], centroids: np.ndarray,
    matches: dict[int, str | None],
) -> dict[int, Segment]:
    """Create, update and retire segments so matched clusters keep key, name and rules."""
    by_label = {p["label"]: p for p in profiles}
    matched_keys = {key for key in matches.values() if key}
    kept = {s.key: s for s in Segment.objects.filter(key__in=matched_keys)}
    _retire_except(matched_keys)
    _step_out_of_live(matched_keys)
    # Names a marketer gave are kept (numbered only in the rare clash of two of them: a retired
    # segment renamed while another had the name, and revived); every other segment is named
    # from today's profile, so a segment whose customers drifted from "New" to "Loyal" says so.
    taken_names: set[str] = set()
    for label in sorted(by_label):
        segment = kept.get(matches.get(label) or "")
        if segment is not None and segment.name_locked:
            segment.name = _unique(segment.name, taken_names)
            taken_names.add(segment.name.lower())
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
        taken_names.add(segment.name.lower())
        segment.algorithm = run.algorithm
        segment.centroid = centroids[label].round(6).tolist()
        _refresh(segment, run, by_label[label])
        segments[label] = segment
    return segments


def rfm_segments_save(*, run: SegmentationRun, profiles: list[dict], names: list[str]) -> dict[int, Segment]:
    """The classic RFM segments: each rule's name is its identity (key rfm-<name>), no model to match."""
    keys = {label: f"rfm-{slugify(name)}" for label, name in enumerate(names)}
    _retire_except(set(keys.values()))
    _step_out_of_live(set(keys.values()))
    existing = {s.key: s for s in Segment.objects.filter(key__in=keys.values())}
    # The rules' names, or the names a marketer gave them, each once among the live segments.
    taken_names: set[str] = set()
    segments = {}
    for profile in sorted(profiles, key=lambda p: not getattr(existing.get(keys[p["label"]]), "name_locked", False)):
        label = profile["label"]
        segment = existing.get(keys[label]) or Segment(
            key=keys[label], name=names[label], algorithm=Algorithm.RFM, first_run=run
        )
        segment.name = _unique(segment.name if segment.name_locked else names[label], taken_names)
        taken_names.add(segment.name.lower())
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
