"""Run pages (the plan in words, progress, timings), the read-only outbox and the suppression list."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import services
from campaigns.admin.messages import MessageAdmin
from campaigns.models import Campaign, CampaignRun, Message, Suppression

from .conftest import url


@pytest.fixture
def launched(campaign, providers):
    """The test campaign launched and sent in this process (as a worker would)."""
    run = services.campaign_run_create(campaign=campaign, triggered_by="test")
    services.campaign_run_execute(run_id=run.pk)
    services.run_batch_send(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_the_run_page_says_what_the_run_planned_and_how_the_sending_went(admin_client, launched):
    page = admin_client.get(url("campaignrun_change", launched.pk))

    content = page.content.decode()
    assert "60 messages were planned: 60 emails." in page.context["plan"]["headline"]
    assert {row["name"] for row in page.context["plan"]["segments"]} == set(launched.plan["by_segment"])
    assert page.context["progress"]["sent"] == 60 and page.context["progress"]["done"] is True
    assert 'data-done="true"' in content and "Choosing recipients" in content  # its timings, by stage
    assert f"/admin/campaigns/message/?run={launched.pk}&amp;status__exact=failed" in content
    assert 'name="_save"' not in content  # a run is a record


def test_a_queued_run_polls_its_status_endpoint(admin_client, campaign):
    run = services.campaign_run_create(campaign=campaign)

    page = admin_client.get(url("campaignrun_change", run.pk)).content.decode()
    status = admin_client.get(url("campaignrun_status", run.pk)).json()

    assert 'data-done="false"' in page and f'data-status-url="{url("campaignrun_status", run.pk)}"' in page
    assert "It waits for a worker" in page
    assert (status["status"], status["done"], status["to_send"]) == ("queued", False, 0)


def test_a_failed_run_says_why(admin_client, db):
    run = CampaignRun.objects.create(campaign=Campaign.objects.create(name="Empty"))
    services.campaign_run_execute(run_id=run.pk)

    page = admin_client.get(url("campaignrun_change", run.pk)).content.decode()
    status = admin_client.get(url("campaignrun_status", run.pk)).json()

    assert "has no rules" in page and status["done"] is True


# --- the outbox -------------------------------------------------------------------------------------


def test_the_message_list_filters_by_run_and_status_and_searches_addresses(admin_client, launched):
    listed = admin_client.get(url("message_changelist"), {"run": launched.pk, "status__exact": "sent", "q": "c1"})

    shown = {m.to for m in listed.context["cl"].result_list}
    assert shown == {"c1@mail.test", *(f"c{n}@mail.test" for n in range(10, 20))}
    by_phone = admin_client.get(url("message_changelist"), {"q": "+44 7700 900 001"})
    assert list(by_phone.context["cl"].result_list) == []  # the run sent email only


def test_a_sent_message_shows_what_it_said_in_a_sandboxed_frame(admin_client, launched):
    message = Message.objects.filter(run=launched).order_by("id").first()

    page = admin_client.get(url("message_change", message.pk)).content.decode()

    assert f"Hi {message.subject.split()[-1]}" in page
    frame = page[page.index("<iframe"):page.index("</iframe>")]
    assert 'sandbox=""' in frame and "srcdoc=\"&lt;p&gt;10% off with HELLO10" in frame
    assert 'name="_save"' not in page


def test_the_message_list_costs_the_same_queries_for_a_page_of_many_messages(admin_client, launched):
    def queries(**params):
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url("message_changelist"), params).status_code == 200
        return len(captured)

    few = queries(q="c1@")  # one message
    many = queries()  # sixty

    assert many == few


def test_the_message_list_counts_no_further_than_its_cap(admin_client, launched, monkeypatch):
    monkeypatch.setattr(MessageAdmin, "count_cap", 25)

    page = admin_client.get(url("message_changelist"))
    searched = admin_client.get(url("message_changelist"), {"q": "c"})

    assert page.context["cl"].result_count == 26
    assert "More than 25 messages" in page.content.decode()
    assert "more than 25 results" in searched.content.decode()
    assert "11 results" in admin_client.get(url("message_changelist"), {"q": "c5"}).content.decode()  # c5, c50-c59


# --- suppressions -----------------------------------------------------------------------------------


def test_an_address_suppressed_by_hand_is_kept_normalised_with_who_and_why(admin_client, db):
    admin_client.post(url("suppression_add"), {"channel": "email", "address": " Ann@Shop.TEST ",
                                                "reason": "unsubscribed", "detail": "asked by phone on 3 March"})
    admin_client.post(url("suppression_add"), {"channel": "sms", "address": "07700 900123", "reason": "stop",
                                                "detail": "replied on WhatsApp"})

    email, sms = Suppression.objects.order_by("channel")
    assert (email.address, email.detail) == ("ann@shop.test", "asked by phone on 3 March (added by admin)")
    assert sms.address == "+447700900123"


def test_a_suppression_needs_a_why_and_a_real_address_once(admin_client, db):
    Suppression.objects.create(channel="email", address="ann@shop.test", reason="bounced")

    missing = admin_client.post(url("suppression_add"), {"channel": "email", "address": "x@shop.test",
                                                          "reason": "unsubscribed", "detail": ""})
    wrong = admin_client.post(url("suppression_add"), {"channel": "sms", "address": "call me", "reason": "stop",
                                                        "detail": "x"})
    twice = admin_client.post(url("suppression_add"), {"channel": "email", "address": "ANN@shop.test",
                                                        "reason": "unsubscribed", "detail": "again"})

    assert "detail" in missing.context["adminform"].form.errors
    assert "not a phone number" in str(wrong.context["adminform"].form.errors["address"])
    assert "already exists" in str(twice.context["adminform"].form.errors)
    assert Suppression.objects.count() == 1


def test_a_suppression_removed_by_hand_lets_the_next_launch_reach_the_address(admin_client, campaign, providers):
    suppressed = Suppression.objects.create(channel="email", address="c1@mail.test", reason="unsubscribed")
    before = services.plan_summary(services.campaign_plan(campaign=campaign))["skipped"]["unsubscribed"]

    admin_client.post(url("suppression_delete", suppressed.pk), {"post": "yes"})

    after = services.plan_summary(services.campaign_plan(campaign=campaign))["skipped"]["unsubscribed"]
    assert (before, after) == (1, 0)
    assert mail.outbox == []
