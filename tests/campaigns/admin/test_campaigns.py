"""Campaign admin: building a campaign and its rules through the page's forms, the schedule in
plain words, the audience preview, launching (eagerly, with no broker), pausing and resuming,
and the progress the page polls."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import services
from campaigns.models import Campaign, Message, MessageTemplate, Rule
from campaigns.planning import SKIP_LABELS
from segments.models import Customer

from ..conftest import definition, segment_key
from .conftest import campaign_form, errors_of, rule_form, url


@pytest.fixture
def templates(db):
    email = MessageTemplate.objects.create(
        name="spring-email", channel="email", subject="Spring, {{ customer.first_name }}",
        html='<p>{{ offer.code }}</p><a href="{{ links.unsubscribe }}">Unsubscribe</a>')
    email_b = MessageTemplate.objects.create(
        name="spring-email-b", channel="email", subject="Our spring sale",
        html='<p>B {{ offer.code }}</p><a href="{{ links.unsubscribe }}">Unsubscribe</a>')
    sms = MessageTemplate.objects.create(name="spring-sms", channel="sms", body="Spring sale: {{ offer.discount }} off")
    return {"email": email, "email_b": email_b, "sms": sms}


def vip(segmented):
    return segmented[segment_key(segmented, "C0001")]


def two_rules(segmented, templates, **fields):
    data = campaign_form(**fields)
    rule_form(data, priority=1, channel="email", segments=[vip(segmented)],
              conditions=[("monetary", ">=", "100"), ("email_consent", "==", "yes")],
              variants=[(templates["email"], 3), (templates["email_b"], 1)], offer=("SPRING", "15%", "10"))
    rule_form(data, priority=2, channel="sms", segments=list(segmented.values()),
              conditions=[("country", "not in", "FR, DE")], variants=[(templates["sms"], 1)], offer=("", "£5", ""))
    return data


# --- building a campaign ----------------------------------------------------------------------------


def test_a_campaign_with_two_rules_is_built_through_the_page(admin_client, segmented, templates):
    page = admin_client.post(url("campaign_add"), two_rules(segmented, templates))

    assert page.status_code == 302, errors_of(page)
    campaign = Campaign.objects.get(name="Spring sale")
    first, second = campaign.rules.order_by("priority")
    assert (first.channel, list(first.segments.all())) == ("email", [vip(segmented)])
    assert first.conditions == [{"field": "monetary", "op": ">=", "value": 100},
                                {"field": "email_consent", "op": "==", "value": True}]
    assert sorted((v.template.name, v.weight) for v in first.variants.all()) == [("spring-email", 3),
                                                                                ("spring-email-b", 1)]
    assert (first.offer_code, first.offer_discount, first.offer_expires_days) == ("SPRING", "15%", 10)
    assert second.conditions == [{"field": "country", "op": "not in", "value": ["FR", "DE"]}]
    assert set(second.segments.all()) == set(segmented.values())
    assert [(v.template.name, v.weight) for v in second.variants.all()] == [("spring-sms", 1)]
    assert campaign.status == Campaign.Status.DRAFT and campaign.periodic_task is None


def test_the_page_shows_a_rules_conditions_and_templates_in_its_row_editors(admin_client, segmented, templates):
    admin_client.post(url("campaign_add"), two_rules(segmented, templates))
    campaign = Campaign.objects.get()

    page = admin_client.get(url("campaign_change", campaign.pk)).content.decode()

    assert 'name="rules-0-conditions-0-field" value="monetary"' in page
    assert '<option value="&gt;=" selected>is at least</option>' in page
    assert 'name="rules-0-conditions-1-value" value="yes"' in page
    assert 'name="rules-1-conditions-0-value" value="FR, DE"' in page
    assert f'<option value="{templates["email"].pk}" selected>spring-email (Email)</option>' in page
    assert '<datalist id="segcampaign-condition-fields">' in page and "days since the last order" in page
    rule = campaign.rules.get(priority=1)
    assert f"/admin/campaigns/messagetemplate/{templates['email'].pk}/preview/?rule={rule.pk}" in page


def test_editing_a_rule_keeps_its_variants_and_changes_their_weights(admin_client, segmented, templates):
    admin_client.post(url("campaign_add"), two_rules(segmented, templates))
    campaign = Campaign.objects.get()
    rule = campaign.rules.get(priority=1)
    kept = rule.variants.get(template=templates["email"])
    data = campaign_form()
    rule_form(data, rule=rule, priority=1, channel="email", segments=[vip(segmented)],
              variants=[(templates["email"], 1)])

    page = admin_client.post(url("campaign_change", campaign.pk), data)

    assert page.status_code == 302, errors_of(page)
    assert [(v.pk, v.weight) for v in rule.variants.all()] == [(kept.pk, 1)]
    assert Rule.objects.get(pk=rule.pk).conditions == []
    assert campaign.rules.count() == 2  # the other rule was not in the form's rows: it is untouched


@pytest.mark.parametrize(("row", "message"), [
    (("recency_days", "in", "3, 4"), "condition 1: recency_days is compared with ==, !=, <, <=, > or >="),
    (("email_consent", "==", "maybe"), "condition 1: agreed to marketing email (yes or no) takes yes or no"),
    (("monetary", ">=", "lots"), "condition 1: monetary >= needs a number, got 'lots'"),
    (("no such field!", "==", "1"), "condition 1: 'no such field!' is not a customer field"),
])
def test_a_faulty_condition_is_named_by_its_row(admin_client, segmented, templates, row, message):
    data = campaign_form()
    rule_form(data, priority=1, channel="email", segments=[vip(segmented)], conditions=[row],
              variants=[(templates["email"], 1)])

    page = admin_client.post(url("campaign_add"), data)

    assert page.status_code == 200
    assert message in errors_of(page).replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">")
    assert not Campaign.objects.exists()


def test_a_rule_cannot_send_a_template_of_the_other_channel_or_none(admin_client, segmented, templates):
    data = campaign_form()
    rule_form(data, priority=1, channel="sms", segments=[vip(segmented)], variants=[(templates["email"], 1)])
    rule_form(data, priority=2, channel="email", segments=[vip(segmented)], variants=[])

    errors = errors_of(admin_client.post(url("campaign_add"), data))

    assert "The rule sends SMS, but spring-email is a template for the other channel." in errors
    assert "Choose at least one template for the rule to send." in errors


def test_two_rules_may_not_share_a_priority(admin_client, segmented, templates):
    data = campaign_form()
    for channel, template in (("email", templates["email"]), ("sms", templates["sms"])):
        rule_form(data, priority=1, channel=channel, segments=[vip(segmented)], variants=[(template, 1)])

    page = admin_client.post(url("campaign_add"), data)

    assert "Two rules have the same priority" in errors_of(page)


# --- the schedule ------------------------------------------------------------------------------------


def test_every_monday_at_nine_is_written_as_cron_and_kept_in_step_with_beat(admin_client, segmented, templates):
    data = two_rules(segmented, templates, when="repeat", repeat="weekly", repeat_weekday="1", repeat_time="09:00")

    admin_client.post(url("campaign_add"), data)

    campaign = Campaign.objects.get()
    assert campaign.schedule_cron == "0 9 * * 1" and campaign.schedule_at is None
    entry = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert (entry.crontab.minute, entry.crontab.hour, entry.crontab.day_of_week) == ("0", "9", "1")
    assert campaign.status == Campaign.Status.SCHEDULED
    page = admin_client.get(url("campaign_change", campaign.pk)).content.decode()
    assert "every Monday at 09:00" in page
    assert '<option value="weekly" selected>' in page and '<option value="1" selected>Monday</option>' in page


def test_removing_the_schedule_removes_the_beat_entry_and_makes_the_campaign_a_draft_again(
    admin_client, segmented, templates
):
    admin_client.post(url("campaign_add"), two_rules(segmented, templates, when="repeat", repeat="daily",
                                                     repeat_time="08:30"))
    campaign = Campaign.objects.get()
    assert campaign.schedule_cron == "30 8 * * *"
    entry = campaign.periodic_task_id

    page = admin_client.post(url("campaign_change", campaign.pk), campaign_form(when="never"))

    assert page.status_code == 302, errors_of(page)
    campaign.refresh_from_db()
    assert campaign.schedule_cron == "" and campaign.periodic_task is None
    assert not PeriodicTask.objects.filter(pk=entry).exists()
    assert campaign.status == Campaign.Status.DRAFT


@pytest.mark.parametrize(("fields", "message"), [
    ({"when": "once", "schedule_at_0": "2020-01-01", "schedule_at_1": "09:00"}, "This time has passed"),
    ({"when": "once"}, "Choose the date and time it runs."),
    ({"when": "repeat", "repeat": "daily"}, "Choose the time of day it runs."),
    ({"when": "repeat", "repeat": "custom", "schedule_cron": "61 * * * *"}, "Not a cron expression"),
])
def test_a_schedule_that_cannot_run_is_refused_in_words(admin_client, db, fields, message):
    assert message in errors_of(admin_client.post(url("campaign_add"), campaign_form(**fields)))


def test_a_custom_cron_expression_is_kept(admin_client, db):
    data = campaign_form(when="repeat", repeat="custom", schedule_cron="*/15  9-17 * * 1-5")

    admin_client.post(url("campaign_add"), data)


    assert Campaign.objects.get().schedule_cron == "*/15 9-17 * * 1-5"


# --- the audience preview ------------------------------------------------------------------------------


def test_the_audience_preview_counts_per_segment_rule_template_and_skip_reason(
    admin_client, segmented, templates, monkeypatch
):
    admin_client.post(url("campaign_add"), two_rules(segmented, templates))
    campaign = Campaign.objects.get()
    Customer.objects.filter(external_id__in=["C0041", "C0042", "C0043"]).update(sms_consent=False)
    expected = services.plan_summary(services.campaign_plan(campaign=campaign))
    plans = []
    planner = services.campaign_plan
    monkeypatch.setattr(services, "campaign_plan", lambda **kw: plans.append(kw) or planner(**kw))

    page = admin_client.get(url("campaign_audience", campaign.pk))

    assert len(plans) == 1  # the planner runs once per page
    plan = page.context["plan"]
    rows = {row["name"]: row for row in plan["segments"]}
    assert set(rows) == set(expected["by_segment"])
    for name, counts in expected["by_segment"].items():
        assert (rows[name]["matched"], rows[name]["messages"]) == (counts["matched"], counts["messages"])
    assert expected["skipped"]["no_consent"] == 3
    assert (SKIP_LABELS["no_consent"], "3") in plan["skipped"]
    emails, sms = expected["by_channel"]["email"], expected["by_channel"]["sms"]
    assert f"{emails + sms} messages would be sent: {emails} emails, {sms} SMS." in plan["headline"]
    labels = dict(plan["rules"])
    assert f"rule 1: Email to {vip(segmented).name} whose net spend (all orders, returns taken off) is at least 100 " \
           "and agreed to marketing email (yes or no) is yes" in labels
    by_template = dict(plan["variants"])
    assert int(by_template["rule 1: spring-email (weight 3)"]) + int(by_template["rule 1: spring-email-b (weight 1)"]) \
        == emails
    content = page.content.decode()
    assert 'class="segcampaign-bar"' in content and "skipped: no consent" in content


def test_the_audience_preview_says_why_a_campaign_cannot_run(admin_client, db):
    campaign = Campaign.objects.create(name="Empty")

    page = admin_client.get(url("campaign_audience", campaign.pk))

    assert "has no rules" in page.context["error"]
    assert 'id="audience-error"' in page.content.decode()


# --- launch, pause, resume, progress -------------------------------------------------------------------
# A launch hands its run to Celery when its transaction commits: these tests commit (transaction=True),
# and with no broker the run plans and sends right there, as in the embedded demo.


@pytest.mark.django_db(transaction=True)
def test_launching_asks_first_then_sends_every_message_at_once_without_a_broker(admin_client, campaign, providers):
    confirm = admin_client.get(url("campaign_launch", campaign.pk))
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.content.decode()
    assert not campaign.runs.exists()

    page = admin_client.post(url("campaign_launch", campaign.pk), follow=True)

    assert len(mail.outbox) == 60
    run = campaign.runs.get()
    assert run.status == "succeeded" and run.triggered_by == "admin"
    notes = [str(m) for m in get_messages(page.wsgi_request)]
    assert notes == [f"Run {run.pk} is launched: 60 messages to send, 60 sent so far, 0 customers held out."]
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DONE
    content = page.content.decode()
    assert f'href="/admin/campaigns/campaignrun/{run.pk}/change/">Run {run.pk}</a>' in content
    assert 'data-done="true"' in content


@pytest.mark.django_db(transaction=True)
def test_the_status_endpoint_gives_the_latest_runs_progress(admin_client, campaign, providers):
    admin_client.post(url("campaign_launch", campaign.pk))

    status = admin_client.get(url("campaign_status", campaign.pk)).json()

    assert {k: status[k] for k in ("status", "to_send", "sent", "failed", "waiting", "holdout", "percent", "done")} == {
        "status": "succeeded", "to_send": 60, "sent": 60, "failed": 0, "waiting": 0, "holdout": 0, "percent": 100,
        "done": True}
    assert status["campaign_status"] == "done"


def quiet_now(campaign):
    """Quiet hours around now: a launch plans every message for the end of them."""
    now = timezone.now()
    campaign.quiet_start = (now - dt.timedelta(hours=1)).time()
    campaign.quiet_end = (now + dt.timedelta(hours=1)).time()
    campaign.save()


@pytest.mark.django_db(transaction=True)
def test_pausing_holds_the_waiting_messages_and_resuming_sends_them(admin_client, campaign, providers):
    quiet_now(campaign)
    admin_client.post(url("campaign_launch", campaign.pk))
    assert mail.outbox == []
    waiting = admin_client.get(url("campaign_status", campaign.pk)).json()
    assert (waiting["waiting"], waiting["done"], waiting["campaign_status"]) == (60, False, "running")
    page = admin_client.get(url("campaign_change", campaign.pk)).content.decode()
    assert 'data-done="false"' in page and url("campaign_status", campaign.pk) in page
    assert url("campaign_pause", campaign.pk) in page

    paused = admin_client.post(url("campaign_pause", campaign.pk), follow=True)

    assert [str(m) for m in get_messages(paused.wsgi_request)] == [
        "Test campaign is paused: nothing more is sent until you resume it."]
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED
    assert admin_client.get(url("campaign_status", campaign.pk)).json()["done"] is True  # nothing moves: no polling
    Message.objects.update(send_after=timezone.now() - dt.timedelta(minutes=1))  # morning came
    refused = admin_client.post(url("campaign_launch", campaign.pk), follow=True)
    assert [str(m) for m in get_messages(refused.wsgi_request)] == [
        "Not launched: campaign 'Test campaign' is paused: resume it first"]
    assert mail.outbox == [] and campaign.runs.count() == 1

    page = admin_client.post(url("campaign_resume", campaign.pk), follow=True)

    assert len(mail.outbox) == 60
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DONE
    notes = [str(m) for m in get_messages(page.wsgi_request)]
    run = campaign.runs.get()
    assert notes == [(f"Test campaign is resumed: the messages waiting in run {run.pk} are being sent (those in "
                      "their quiet hours wait for the morning).")]


def test_pausing_and_resuming_a_scheduled_campaign_holds_and_frees_its_beat_entry(admin_client, segmented):
    campaign = services.campaign_load(data=definition(segmented, schedule={"cron": "0 9 * * 1"}))
    entry = PeriodicTask.objects.get(pk=campaign.periodic_task_id)

    admin_client.post(url("campaign_pause", campaign.pk))
    held = PeriodicTask.objects.get(pk=entry.pk).enabled
    admin_client.post(url("campaign_resume", campaign.pk))

    assert held is False and PeriodicTask.objects.get(pk=entry.pk).enabled is True
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SCHEDULED


def test_the_campaign_list_says_each_schedule_in_words(admin_client, segmented):
    Campaign.objects.create(name="Weekly", schedule_cron="0 9 * * 1")
    Campaign.objects.create(name="Monthly", schedule_cron="0 7 1 * *")

    page = admin_client.get(url("campaign_changelist")).content.decode()

    assert "every Monday at 09:00" in page and "on day 1 of every month at 07:00" in page and "never" in page
