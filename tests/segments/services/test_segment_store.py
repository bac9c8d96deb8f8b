"""Segment rows: identity kept across runs, keys and names never clash."""

import pytest

from segments.models import Segment
from segments.services import segment_store

pytestmark = pytest.mark.django_db


def test_a_new_key_skips_every_numbered_key_already_taken():
    for key in ("loyal", "loyal-2"):
        Segment.objects.create(key=key, name=key, algorithm="kmeans", is_active=False)

    assert segment_store._unique_key("loyal") == "loyal-3"
    assert segment_store._unique_key("new") == "new"


def test_a_name_is_numbered_with_a_space_when_taken():
    assert segment_store._unique("Loyal", {"Loyal", "Loyal 2"}) == "Loyal 3"
