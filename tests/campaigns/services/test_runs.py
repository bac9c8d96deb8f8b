"""Campaign runs: planning against the database, the outbox written once, settling."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import Campaign, CampaignRun, Message, Suppression
from segments.models import Customer

from ..conftest import definition


def launch(campaign):
    run = services.campaign_run_create(campaign=campaign, triggered_by="test")
    return services.campaign_run_execute(run_id=run.pk)


def test_a_dry_run_plans_every_customer_and_writes_nothing(campaign):
    planned = services.campaign_plan(campaign=campaign)

    summary = services.plan_summary(planned)
    assert summary["customers_matched"] == 60 and summary["messages"] == 60
    assert sum(s["matched"] for s in summary["by_segment"].values()) == 60
    assert summary["by_variant"] == {"hello-email": 60}
    assert not Message.objects.exists() and not CampaignRun.objects.exists()


def test_conditions_compile_to_queries_on_order_figures(segmented):
    data = definition(segmented)
    data["rules"][0]["conditions"] = [{"field": "frequency", "op": ">=", "value": 12}]
    campaign = services.campaign_load(data=data)

    planned = services.campaign_plan(campaign=campaign)

    # Only the VIPs (12-15 orders each) have twelve or more orders.
    assert set(planned.plan.messages["customer_id"]) == set(
        Customer.objects.filter(external_id__lte="C0020").values_list("pk", flat=True)
    )


def test_every_skip_reason_comes_from_the_database(segmented):
    Customer.objects.filter(external_id="C0001").update(email="")
    Customer.objects.filter(external_id="C0002").update(email_consent=False)
    Suppression.objects.create(channel="email", address="c3@mail.test", reason="unsubscribed")
    campaign = services.campaign_load(data=definition(segmented, frequency_cap={"messages": 1, "days": 7}))
    launch(services.campaign_load(data=definition(segmented, name="Earlier", frequency_cap=None)))

    summary = services.plan_summary(services.campaign_plan(campaign=campaign))

    # The earlier campaign's 57 messages fill everyone's cap of one; three were skipped before it.
    assert summary["skipped"] == {"no_address": 1, "no_consent": 1, "unsubscribed": 1, "frequency_cap": 57}


def test_a_launch_writes_one_outbox_row_per_recipient_with_holdouts_recorded(segmented):
    campaign = services.campaign_load(data=definition(segmented, holdout_percent=10))

    run = launch(campaign)

    assert run.status == "succeeded", run.error
    assert run.messages_planned == 60 == Message.objects.filter(run=run).count()
    assert Message.objects.filter(run=run, holdout=True, status="holdout").count() == 6
    assert Message.objects.filter(run=run, status="pending").count() == 54
    assert run.plan["holdout"] == 6 and run.plan["messages"] == 54
    assert run.segmentation_run is not None
    assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_launching_the_same_run_twice_creates_nothing_new(campaign):
    run = launch(campaign)

    again = services.campaign_run_execute(run_id=run.pk)
    CampaignRun.objects.filter(pk=run.pk).update(status="queued")  # as if redelivered before it finished
    redone = services.campaign_run_execute(run_id=run.pk)

    assert again is None
    assert redone.status == "succeeded" and Message.objects.count() == 60


def test_quiet_hours_defer_messages_instead_of_dropping_them(segmented, settings, monkeypatch):
    settings.TIME_ZONE = "UTC"
    campaign = services.campaign_load(data=definition(segmented, quiet_hours={"start": "00:00", "end": "23:59"}))

    run = launch(campaign)

    assert Message.objects.filter(run=run).count() == 60
    assert not Message.objects.filter(run=run, send_after__lte=timezone.now()).exists()
    assert run.plan["deferred_by_quiet_hours"] == 60
    assert tasks.sends_queue(run_id=run.pk) == 0


def test_a_campaign_without_rules_fails_the_run_with_the_reason(segmented):
    campaign = Campaign.objects.create(name="Empty")

    run = launch(campaign)

    assert run.status == "failed" and "has no rules" in run.error


def test_a_paused_campaign_cannot_be_launched(campaign):
    services.campaign_pause(campaign=campaign)

    with pytest.raises(services.CampaignError, match="is paused"):
        services.campaign_run_create(campaign=campaign)


def test_a_run_is_settled_when_nothing_is_left_and_the_campaign_is_done(campaign):
    run = launch(campaign)
    assert not services.campaign_run_settle(run=run)
    Message.objects.filter(run=run).update(status="sent", sent_at=timezone.now() - dt.timedelta(minutes=1))

    assert services.campaign_run_settle(run=run)
    assert Campaign.objects.get(pk=campaign.pk).status == "done"
