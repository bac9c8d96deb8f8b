"""Sending the outbox: each message exactly once, through the real anymail and Twilio code."""

import datetime as dt
import json

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from twilio.http.response import Response

from campaigns import links, services
from campaigns.channels import sms as sms_module
from campaigns.channels.sms import TwilioBackend
from campaigns.channels.standin import PostmarkStandIn
from campaigns.models import Campaign, Message, Suppression
from campaigns.services import outbox
from segments.models import Customer

from ..channels.test_sms import FakeTwilioHttp, twilio_failure
from ..conftest import definition


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_BACKEND = "locmem"
    settings.CAMPAIGN_BATCH_SIZE = 500
    sms_module.outbox.clear()


def launched(campaign):
    run = services.campaign_run_create(campaign=campaign)
    return services.campaign_run_execute(run_id=run.pk)


def sms_campaign(segmented, **overrides):
    data = definition(segmented, **overrides)
    data["rules"] = [{"segments": sorted(segmented), "channel": "sms", "priority": 1,
                      "variants": [{"template": "hello-sms", "weight": 1}], "offer": {"code": "TXT5", "discount": "5%"}}]
    return services.campaign_load(data=data)


def test_a_batch_renders_stores_and_sends_every_email_once(campaign):
    run = launched(campaign)

    outcome = services.run_batch_send(run_id=run.pk)

    assert (outcome.claimed, outcome.sent, outcome.failed) == (60, 60, 0)
    assert len(mail.outbox) == 60
    sent = {m.to[0]: m for m in mail.outbox}
    message = Message.objects.get(run=run, to="c1@mail.test")
    email = sent["c1@mail.test"]
    assert message.status == "sent" and message.provider_id and message.sent_at
    assert email.metadata == {"message_id": str(message.pk)}
    assert email.subject == message.subject == f"Hi {message.customer.first_name}"
    assert email.extra_headers["List-Unsubscribe"] == f"<{links.unsubscribe_url(message.pk)}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "10% off with HELLO10" in message.html and links.tracked_url(message.pk, 0) in message.html
    assert message.links == ["https://shop.test/x"]
    assert "mail.test" not in links.tracked_url(message.pk, 0)  # no personal data in a link


def test_a_slice_is_marked_sending_with_its_content_and_recorded_in_one_statement_each(campaign, settings):
    settings.CAMPAIGN_SEND_CONCURRENCY = 16  # slices of 64: the 60 messages are one slice
    run = launched(campaign)

    with CaptureQueriesContext(connection) as queries:
        outcome = services.run_batch_send(run_id=run.pk)

    updates = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "WITH"))]
    assert outcome.sent == 60
    assert len(updates) == 3  # claim; to `sending` with the content; the provider's answers
    assert "'sending'" in updates[1] and "html" in updates[1]
    message = Message.objects.get(run=run, to="c1@mail.test")
    assert (message.status, message.attempts) == ("sent", 1) and "HELLO10" in message.html


def test_a_second_batch_or_a_retried_task_sends_nothing_again(campaign):
    run = launched(campaign)
    services.run_batch_send(run_id=run.pk)

    again = services.run_batch_send(run_id=run.pk)

    assert again.claimed == 0 and len(mail.outbox) == 60


def test_two_workers_never_claim_the_same_message(campaign, settings):
    run = launched(campaign)

    first, claimed_at = outbox.messages_claim(run_id=run.pk, limit=40)
    second, _ = outbox.messages_claim(run_id=run.pk, limit=40)

    assert len(first) == 40 and len(second) == 20 and not set(first) & set(second)
    assert outbox.messages_claim(run_id=run.pk, limit=40)[0] == []


def test_a_claim_whose_worker_never_came_back_is_claimed_again_but_never_a_sending_one(campaign, settings):
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 60
    run = launched(campaign)
    ids, claimed_at = outbox.messages_claim(run_id=run.pk, limit=60)
    outbox.messages_start_sending(ids=ids[:10], claimed_at=claimed_at)  # then the worker died
    later = timezone.now() + dt.timedelta(seconds=120)

    retaken, _ = outbox.messages_claim(run_id=run.pk, limit=100, now=later)
    unknown = outbox.messages_mark_unknown(now=later)

    assert sorted(retaken) == ids[10:]
    assert unknown == 10 and Message.objects.filter(status="unknown").count() == 10
    # The first worker, back from the dead, cannot move messages it no longer holds.
    assert outbox.messages_start_sending(ids=ids[10:], claimed_at=claimed_at) == []


def test_sms_go_through_the_sms_backend_with_the_opt_out_text(segmented):
    run = launched(sms_campaign(segmented))

    outcome = services.run_batch_send(run_id=run.pk)

    assert outcome.sent == 60 and len(sms_module.outbox) == 60
    body = Message.objects.filter(run=run).first().body
    assert body == "5% off: TXT5\nReply STOP to opt out"


def test_twilio_sees_every_sms_with_its_status_callback_and_a_permanent_error_suppresses(segmented):
    run = launched(sms_campaign(segmented))
    bad = Message.objects.filter(run=run).order_by("id").first()
    answers = [twilio_failure(400, 21211, "The 'To' number is not a valid phone number.")] + [None] * 59
    http = FakeTwilioHttp(answers)
    backend = TwilioBackend(account_sid="AC" + "0" * 32, auth_token="t", from_number="+447700900000", http_client=http,
                            status_callback=links.sms_status_callback_url())

    outcome = services.run_batch_send(run_id=run.pk, sms_backend=backend)

    assert (outcome.sent, outcome.failed) == (59, 1)
    assert all(r["data"]["StatusCallback"] == links.sms_status_callback_url() for r in http.requests)
    bad.refresh_from_db()
    assert bad.status == "failed" and "21211" in bad.error
    assert Suppression.objects.get(channel="sms", address=bad.to).reason == "invalid"
    # Suppressed numbers are skipped by the next run's plan.
    assert services.campaign_plan(campaign=run.campaign).plan.summary["skipped"]["unsubscribed"] == 1


def test_a_temporary_error_retries_with_back_off_then_fails(segmented, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 2
    run = launched(sms_campaign(segmented))
    busy = [Response(503, json.dumps({"code": 20503, "message": "Service unavailable", "status": 503}))] * 60
    backend = TwilioBackend(account_sid="AC" + "0" * 32, auth_token="t", from_number="+447700900000",
                            http_client=FakeTwilioHttp(busy))

    first = services.run_batch_send(run_id=run.pk, sms_backend=backend)
    waiting = Message.objects.filter(run=run).first()
    not_yet = services.run_batch_send(run_id=run.pk, sms_backend=backend)
    Message.objects.filter(run=run).update(send_after=timezone.now())
    second = services.run_batch_send(run_id=run.pk, sms_backend=TwilioBackend(
        account_sid="AC" + "0" * 32, auth_token="t", from_number="+447700900000", http_client=FakeTwilioHttp(busy)))

    assert first.retried == 60 and waiting.status == "pending" and waiting.attempts == 1
    assert waiting.send_after > timezone.now() + dt.timedelta(seconds=50)
    assert not_yet.claimed == 0
    assert second.failed == 60 and Message.objects.filter(status="failed", attempts=2).count() == 60
    assert not Suppression.objects.exists()  # an outage says nothing about the numbers


def test_a_real_esp_backend_sends_to_a_local_stand_in_and_a_hard_bounce_suppresses(campaign, settings):
    with PostmarkStandIn(inactive={"c2@mail.test"}) as standin:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": standin.token, "POSTMARK_API_URL": standin.url}
        run = launched(campaign)

        outcome = services.run_batch_send(run_id=run.pk)

    assert (outcome.sent, outcome.failed) == (59, 1)
    assert len(standin.received) == 60  # the refused one reached the ESP too
    assert {m["Metadata"]["message_id"] for m in standin.received if m["To"] != "c2@mail.test"} == {
        str(pk) for pk in Message.objects.filter(status="sent").values_list("pk", flat=True)
    }
    assert Suppression.objects.get(channel="email", address="c2@mail.test").reason == "bounced"


def test_a_paused_campaign_sends_nothing_and_resumes_where_it_stopped(campaign, settings):
    settings.CAMPAIGN_BATCH_SIZE = 25
    run = launched(campaign)
    services.run_batch_send(run_id=run.pk)
    services.campaign_pause(campaign=campaign)

    paused = services.run_batch_send(run_id=run.pk)
    sent_while_paused = len(mail.outbox) - 25
    services.campaign_resume(campaign=campaign, unfinished=True)
    resumed = [services.run_batch_send(run_id=run.pk) for _ in range(3)]

    assert paused.paused and paused.claimed == 0 and sent_while_paused == 0
    assert [o.sent for o in resumed] == [25, 10, 0] and len(mail.outbox) == 60
    assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_a_template_that_fails_for_one_customer_fails_that_message_alone(segmented):
    data = definition(segmented)
    data["templates"][0]["subject"] = "{{ 100 // customer.attributes.get('zero', 1) }}"
    campaign = services.campaign_load(data=data)
    run = launched(campaign)
    target = Message.objects.filter(run=run).order_by("id").first()
    target.customer.attributes = {"zero": 0}
    target.customer.save()

    outcome = services.run_batch_send(run_id=run.pk)

    target.refresh_from_db()
    assert (outcome.sent, target.status) == (59, "failed")
    assert target.error.startswith("template error:")


def test_no_sms_goes_through_twilio_while_the_sample_shop_is_in_the_database(segmented, settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "real-looking"
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    run = launched(sms_campaign(segmented))
    Customer.objects.filter(external_id="C0001").update(email="olivia.smith1@example.com")  # the sample shop's kind

    outcome = services.run_batch_send(run_id=run.pk)

    assert outcome.failed == 60 and outcome.sent == 0
    assert "sample shop" in Message.objects.filter(run=run).first().error
