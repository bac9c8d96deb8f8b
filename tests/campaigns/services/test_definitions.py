"""Campaigns as JSON: created or updated by name; every fault named by its JSON path; nothing
written when there is one."""

import copy

import pytest
from django_celery_beat.models import PeriodicTask

from campaigns import services
from campaigns.models import Campaign, MessageTemplate, Rule, Variant

from ..conftest import definition


def test_a_file_creates_templates_a_campaign_and_its_rules(segmented):
    campaign = services.campaign_load(data=definition(segmented))

    assert campaign.name == "Test campaign" and campaign.status == "draft"
    assert set(MessageTemplate.objects.values_list("name", "channel")) == {("hello-email", "email"), ("hello-sms", "sms")}
    rule = campaign.rules.get()
    assert (rule.priority, rule.channel, rule.offer_code, rule.offer_expires_days) == (1, "email", "HELLO10", 14)
    assert set(rule.segments.values_list("key", flat=True)) == set(segmented)
    assert [v.template.name for v in rule.variants.all()] == ["hello-email"]
    assert (campaign.quiet_start, campaign.frequency_cap_messages) == (None, None)


def test_loading_again_updates_in_place_and_keeps_rule_ids(segmented):
    first = services.campaign_load(data=definition(segmented))
    rule_id = first.rules.get().pk
    changed = definition(segmented, holdout_percent=20)
    changed["rules"][0]["offer"]["code"] = "HELLO20"

    second = services.campaign_load(data=changed)

    assert second.pk == first.pk and Campaign.objects.count() == 1
    assert second.holdout_percent == 20
    assert second.rules.get().pk == rule_id and second.rules.get().offer_code == "HELLO20"


def test_segments_are_named_by_key_or_by_current_name(segmented):
    key = sorted(segmented)[0]
    data = definition(segmented)
    data["rules"][0]["segments"] = [key, segmented[sorted(segmented)[1]].name.upper()]

    campaign = services.campaign_load(data=data)

    assert set(campaign.rules.get().segments.values_list("key", flat=True)) == set(sorted(segmented)[:2])


@pytest.mark.parametrize(
    "change, fault",
    [
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d.pop("name"), "name: is required"),
        (lambda d: d.update(holdout_percent=80), "holdout_percent: must be a whole number from 0 to 50, got 80"),
        (lambda d: d["rules"][0]["variants"][0].update(template="vip"), "rules[0].variants[0].template: no template "
                                                                         "named 'vip'"),
        (lambda d: d["rules"][0].update(segments=["nobody"]), "rules[0].segments[0]: no segment with the key or name "
                                                               "'nobody'"),
        (lambda d: d["rules"][0].update(channel="sms"), "rules[0].variants[0].template: 'hello-email' is an email "
                                                         "template, the rule sends sms"),
        (lambda d: d["templates"][0].update(subject="Hi {{ customer.first_name"), "templates[0].subject:"),
        (lambda d: d["templates"][1].update(body="{{ customer.frist_name }}"), "templates[1].body:"),
        (lambda d: d["rules"][0].update(conditions=[{"field": "monetary", "op": "=>", "value": 1}]),
         "rules[0].conditions[0].op: '=>' is not one of"),
        (lambda d: d["rules"][0].update(conditions=[{"field": "monetary", "op": ">=", "value": "lots"}]),
         "rules[0].conditions[0].value: monetary >= needs a number"),
        (lambda d: d.update(schedule={"cron": "every monday"}), "schedule.cron: must be five fields"),
        (lambda d: d.update(goal={"kind": "coupon"}), "goal.code: is required for the coupon goal"),
        (lambda d: d["rules"][0].update(offer={"percent": 5}), "rules[0].offer.percent: unknown key"),
    ],
)
def test_a_fault_is_named_by_its_json_path_and_nothing_is_written(segmented, change, fault):
    data = copy.deepcopy(definition(segmented))
    change(data)

    with pytest.raises(services.DefinitionError) as refused:
        services.campaign_load(data=data)

    assert any(problem.startswith(fault) for problem in refused.value.problems), refused.value.problems
    assert not Campaign.objects.exists() and not MessageTemplate.objects.exists()
    assert not Rule.objects.exists() and not Variant.objects.exists()


def test_a_file_reports_all_its_faults_at_once(segmented):
    data = definition(segmented, holdout_percent=-1)
    data["rules"][0]["variants"][0]["template"] = "vip"

    with pytest.raises(services.DefinitionError) as refused:
        services.campaign_load(data=data)

    assert len(refused.value.problems) == 2


def test_a_cron_schedule_becomes_a_beat_entry_in_the_shops_time_zone(segmented, settings):
    campaign = services.campaign_load(data=definition(segmented, schedule={"cron": "0 9 * * 1"}))

    task = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert task.task == "campaigns.tasks.campaign_scheduled_task" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "9", "1")
    assert str(task.crontab.timezone) == settings.TIME_ZONE
    assert campaign.status == "scheduled"
