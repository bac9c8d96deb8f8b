"""Try before apply: drafts change nothing, Make live applies them once, runs that fail the checks wait."""

import pytest

from segments import selectors, services
from segments.models import Customer, DraftLabel, Membership, Segment, SegmentationRun

from ..conftest import current_segments, make_shop, run

pytestmark = pytest.mark.django_db

DRAFT = SegmentationRun.GoLive.NEVER


def _segments():
    """Every segment row as it stands: key -> (name, locked, active, size)."""
    return {s.key: (s.name, s.name_locked, s.is_active, s.size) for s in Segment.objects.all()}


def test_a_draft_changes_no_membership_and_no_segment_but_says_who_would_move(shop):
    live = run(k=3)
    renamed = Segment.objects.get(key=live.profiles[0]["key"])
    renamed.name, renamed.name_locked = "Our regulars", True
    renamed.save()
    before_members, before_segments = current_segments(), _segments()
    memberships = Membership.objects.count()

    draft = run(k=2, go_live=DRAFT)

    assert draft.status == SegmentationRun.Status.SUCCEEDED, draft.error
    assert draft.is_draft and not draft.applied and draft.applied_at is None
    assert "nothing changes" in draft.draft_reason
    assert current_segments() == before_members
    assert Membership.objects.count() == memberships
    assert _segments() == before_segments
    # What it would do is on the run: two segments for 60 customers, some of whom would move.
    assert sum(p["size"] for p in draft.profiles) == 60
    assert draft.moved > 0
    assert sum(n for moves in draft.transitions.values() for n in moves.values()) == 60
    assert DraftLabel.objects.filter(run=draft).count() == 60
    assert selectors.latest_successful_run() == live


def test_make_live_writes_what_the_draft_showed_and_retires_what_it_had_no_cluster_for(shop):
    live = run(k=3)
    draft = run(k=2, go_live=DRAFT)
    shown = {p["key"]: p["size"] for p in draft.profiles}

    made, done = services.segmentation_run_make_live(run_id=draft.pk, by="alice")

    assert done and made.applied and made.applied_by == "alice" and made.draft_reason == ""
    members = current_segments()
    assert len(members) == 60
    assert {key: list(members.values()).count(key) for key in shown} == shown
    assert set(Segment.objects.filter(is_active=True).values_list("key", flat=True)) == set(shown)
    assert made.moved == draft.moved
    assert {p["segment_id"] for p in made.profiles} == set(Segment.objects.filter(key__in=shown).values_list("pk", flat=True))
    assert selectors.latest_successful_run() == made
    # Once live, no draft keeps labels: the others are out of date.
    assert not DraftLabel.objects.exists()
    assert live.pk < made.pk


def test_make_live_twice_applies_once(shop):
    draft = run(k=3, go_live=DRAFT)
    services.segmentation_run_make_live(run_id=draft.pk, by="alice")
    memberships, members = Membership.objects.count(), current_segments()

    again, done = services.segmentation_run_make_live(run_id=draft.pk, by="bob")

    assert not done
    assert again.applied_by == "alice"
    assert (Membership.objects.count(), current_segments()) == (memberships, members)


def test_a_draft_overtaken_by_a_newer_live_run_is_refused_in_plain_words(shop):
    run(k=3)
    draft = run(k=2, go_live=DRAFT)
    newer = run(k=3)
    members = current_segments()

    with pytest.raises(services.SegmentationError, match=f"Run {newer.pk} went live after this run started"):
        services.segmentation_run_make_live(run_id=draft.pk, by="alice")

    assert current_segments() == members
    draft.refresh_from_db()
    assert draft.is_draft
    assert services.draft_out_of_date(draft).startswith(f"Run {newer.pk} went live")


def test_an_older_draft_made_live_leaves_a_newer_draft_out_of_date(shop):
    first = run(k=2, go_live=DRAFT)
    second = run(k=3, go_live=DRAFT)
    services.segmentation_run_make_live(run_id=first.pk, by="alice")

    with pytest.raises(services.SegmentationError, match=f"Run {first.pk} went live"):
        services.segmentation_run_make_live(run_id=second.pk, by="alice")


def test_only_a_finished_draft_can_be_made_live(shop):
    failed = run(feature_names=["recency_days", "shoe_size"], go_live=DRAFT)

    with pytest.raises(services.SegmentationError, match="only a finished draft can be made live"):
        services.segmentation_run_make_live(run_id=failed.pk, by="alice")


def test_a_run_that_fails_the_sanity_checks_waits_as_a_draft_and_the_segments_in_use_stay(shop):
    live = run(k=3)
    members, segments = current_segments(), _segments()
    # The experiment: an attribute that two customers have.
    for age, customer in zip((30, 40), Customer.objects.order_by("external_id")[:2]):
        customer.attributes = {"age": age}
        customer.save()

    held = run(feature_names=["recency_days", "frequency", "monetary", "age"], k=3)

    assert held.status == SegmentationRun.Status.SUCCEEDED, held.error
    assert held.is_draft
    assert held.draft_reason.startswith("Held back by the sanity checks: 'age' is missing for 97% of your customers")
    assert "--force" in held.draft_reason
    assert (current_segments(), _segments()) == (members, segments)
    assert selectors.latest_successful_run() == live


def test_a_forced_run_goes_live_whatever_the_checks_say(shop):
    run(k=3)
    for age, customer in zip((30, 40), Customer.objects.order_by("external_id")[:2]):
        customer.attributes = {"age": age}
        customer.save()

    forced = run(feature_names=["recency_days", "frequency", "monetary", "age"], k=3, go_live="always")

    assert forced.applied and not forced.draft_reason
    assert "mostly_missing_feature" in [w["code"] for w in forced.warnings]
    assert set(current_segments().values()) == {p["key"] for p in forced.profiles}


def test_a_run_that_passes_the_checks_goes_live_as_before(shop):
    result = run(k=3)

    assert result.applied and result.applied_at is not None and result.applied_by == ""
    assert len(current_segments()) == 60
    assert not DraftLabel.objects.exists()


def test_an_incremental_draft_places_nobody_until_it_is_made_live(shop):
    run(k=3)
    mover = Customer.objects.get(external_id="C0041")  # a newcomer who now buys like a VIP
    vip_key = current_segments()["C0001"]
    orders = [o for o in Customer.objects.get(external_id="C0001").orders.all()]
    for i, order in enumerate(orders):
        mover.orders.create(external_id=f"again-{i}", ordered_at=order.ordered_at, amount=order.amount, quantity=2)
    Customer.objects.filter(pk=mover.pk).update(updated_at=mover.updated_at.replace(year=2100))
    before = current_segments()

    draft = run(incremental=True, go_live=DRAFT)

    assert draft.is_draft and draft.moved == 1
    assert current_segments() == before
    services.segmentation_run_make_live(run_id=draft.pk, by="alice")
    assert current_segments()["C0041"] == vip_key
    assert {k: v for k, v in current_segments().items() if k != "C0041"} == {
        k: v for k, v in before.items() if k != "C0041"
    }


def test_a_go_live_that_is_not_one_of_the_choices_is_refused(shop):
    with pytest.raises(services.SegmentationError, match="unknown go_live 'maybe'"):
        services.segmentation_run_create(go_live="maybe")


# --- renamed segments whose customers changed -------------------------------------------------------


def _rename_the_vips_as_if_they_bought_little(live):
    """Rename the VIP segment, and make its live profile say what it held when it was named: 2 orders, £130."""
    vip = max(live.profiles, key=lambda p: p["median"]["frequency"])
    segment = Segment.objects.get(key=vip["key"])
    segment.name, segment.name_locked = "Regulars - 2 orders a year", True
    segment.profile = {**segment.profile, "median": {**segment.profile["median"], "frequency": 2.0, "monetary": 130.0}}
    segment.save()
    return segment


def test_a_renamed_segment_whose_customers_changed_is_flagged_in_the_draft_and_on_the_segment_once_live(shop):
    segment = _rename_the_vips_as_if_they_bought_little(run(k=3))

    draft = run(k=3, go_live=DRAFT)

    flags = [w for w in draft.warnings if w["code"] == services.PROFILE_CHANGED]
    assert len(flags) == 1
    assert flags[0]["message"].startswith(
        f"The customers of 'Regulars - 2 orders a year' changed in run {draft.pk}: the median customer went from "
        "2 orders to "
    )
    assert "£130 spent to £" in flags[0]["message"]
    segment.refresh_from_db()
    assert not segment.profile_changed  # a draft touches no segment

    made, _ = services.segmentation_run_make_live(run_id=draft.pk, by="alice")

    segment.refresh_from_db()
    assert segment.profile_changed and segment.profile_change == flags[0]["message"]
    assert segment.name == "Regulars - 2 orders a year"
    assert [w["message"] for w in made.warnings if w["code"] == services.PROFILE_CHANGED] == [flags[0]["message"]]


def test_a_renamed_segment_whose_customers_stayed_alike_is_not_flagged(shop):
    live = run(k=3)
    segment = Segment.objects.get(key=live.profiles[0]["key"])
    segment.name, segment.name_locked = "Our friends", True
    segment.save()

    again = run(k=3)

    segment.refresh_from_db()
    assert not segment.profile_changed
    assert services.PROFILE_CHANGED not in [w["code"] for w in again.warnings]


def test_a_segment_named_by_the_runs_is_renamed_rather_than_flagged(shop):
    live = run(k=3)
    vip = max(live.profiles, key=lambda p: p["median"]["frequency"])
    segment = Segment.objects.get(key=vip["key"])
    segment.profile = {**segment.profile, "median": {**segment.profile["median"], "frequency": 2.0}}
    segment.save()

    again = run(k=3)

    segment.refresh_from_db()
    assert not segment.profile_changed
    assert services.PROFILE_CHANGED not in [w["code"] for w in again.warnings]
