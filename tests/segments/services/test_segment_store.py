"""Segment rows: identity kept across runs, keys and names never clash."""

import pytest
from django.db import IntegrityError, transaction

from segments.models import Segment, SegmentationRun
from segments.services import segment_store

pytestmark = pytest.mark.django_db


def test_a_new_key_skips_every_numbered_key_already_taken():
    for key in ("loyal", "loyal-2"):
        Segment.objects.create(key=key, name=key, algorithm="kmeans", is_active=False)

    assert segment_store._unique_key("loyal") == "loyal-3"
    assert segment_store._unique_key("new") == "new"


def test_a_name_is_numbered_with_a_space_when_taken_whatever_its_case():
    assert segment_store._unique("Loyal", {"loyal", "loyal 2"}) == "Loyal 3"
    assert segment_store._unique("LOYAL", {"loyal"}) == "LOYAL 2"


def _segment(key, name, *, live=True, locked=False):
    return Segment.objects.create(key=key, name=name, algorithm="kmeans", is_active=live, name_locked=locked)


def test_the_database_refuses_two_live_segments_of_one_name_but_not_a_retired_one():
    _segment("loyal", "Loyal")
    _segment("old-loyal", "loyal", live=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        _segment("loyal-2", "LOYAL")


def test_renaming_to_the_name_of_another_live_segment_is_refused_in_words():
    _segment("loyal", "Loyal")
    other = _segment("new", "New")

    with pytest.raises(segment_store.SegmentNameTaken, match="Another live segment is already called “loyal”"):
        segment_store.segment_rename(segment=other, name=" loyal ")

    other.refresh_from_db()
    assert (other.name, other.name_locked) == ("New", False)


def test_a_segment_may_take_the_name_of_a_retired_one_and_is_locked():
    _segment("old-loyal", "Loyal", live=False)
    other = _segment("new", "New")

    segment_store.segment_rename(segment=other, name="Loyal", description="Best ones")

    other.refresh_from_db()
    assert (other.name, other.name_locked, other.description) == ("Loyal", True, "Best ones")


def _profiles(n):
    return [{"label": label, "size": 10} for label in range(n)]


def _save(*, auto_names, keys) -> dict[str, Segment]:
    """A run's segments planned (as a draft shows them), then applied (as it goes live)."""
    run = SegmentationRun.objects.create()
    profiles = _profiles(len(auto_names))
    segment_store.segments_plan(profiles, auto_names=auto_names, keys=keys)
    run.profiles, run.model_state = profiles, {}
    with transaction.atomic():
        return segment_store.segments_apply(run, changed={})


def test_a_run_may_swap_the_names_of_two_segments():
    _segment("a", "New")
    _segment("b", "Loyal")

    saved = _save(auto_names={0: "Loyal", 1: "New"}, keys={0: "a", 1: "b"})

    assert {key: s.name for key, s in saved.items()} == {"a": "Loyal", "b": "New"}
    assert dict(Segment.objects.filter(is_active=True).values_list("key", "name")) == {"a": "Loyal", "b": "New"}


def test_a_revived_segment_whose_name_a_live_one_has_is_numbered():
    # Renamed while retired to the name a live segment had, then matched again by a run.
    _segment("a", "Champions", live=False, locked=True)
    _segment("b", "champions", locked=True)

    _save(auto_names={0: "X", 1: "Y"}, keys={0: "a", 1: "b"})

    assert dict(Segment.objects.filter(is_active=True).values_list("key", "name")) == {
        "a": "Champions", "b": "champions 2"
    }


def test_a_new_segment_is_not_named_like_a_live_one_whatever_the_case():
    _segment("a", "loyal", locked=True)

    saved = _save(auto_names={0: "Whatever", 1: "Loyal"}, keys={0: "a", 1: None})

    assert sorted(s.name for s in saved.values()) == ["Loyal 2", "loyal"]


def test_rfm_segments_keep_a_marketers_name_and_never_clash():
    _segment("rfm-loyal", "Champions", live=False, locked=True)  # renamed while retired

    saved = _save(
        auto_names={0: "Champions", 1: "Loyal"},
        keys={0: segment_store.rfm_key("Champions"), 1: segment_store.rfm_key("Loyal")},
    )

    # The name a marketer chose wins, as in a refit; the rule's own name is numbered.
    assert {key: s.name for key, s in saved.items()} == {"rfm-champions": "Champions 2", "rfm-loyal": "Champions"}
