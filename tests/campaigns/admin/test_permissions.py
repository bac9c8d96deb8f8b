"""Every custom view checks the model permission it needs, here with staff members lacking it.

| view | needs |
|---|---|
| template preview | view message template |
| template test send | view message template and add message |
| campaign audience preview, campaign status | view campaign |
| launch, pause, resume (asking and doing) | change campaign |
| run status | view campaign run |
| rules on the campaign's page | the campaign's own permissions |
"""

import pytest
from django.core import mail

from campaigns.models import Campaign, MessageTemplate

from .conftest import campaign_form, rule_form, url


def template_views(campaign):
    template = MessageTemplate.objects.get(name="hello-email")
    return {
        "preview": ("get", url("messagetemplate_preview", template.pk)),
        "send_test": ("post", url("messagetemplate_send_test", template.pk)),
    }


def campaign_views(campaign):
    return {
        "audience": ("get", url("campaign_audience", campaign.pk)),
        "status": ("get", url("campaign_status", campaign.pk)),
        "launch_ask": ("get", url("campaign_launch", campaign.pk)),
        "launch": ("post", url("campaign_launch", campaign.pk)),
        "pause_ask": ("get", url("campaign_pause", campaign.pk)),
        "pause": ("post", url("campaign_pause", campaign.pk)),
        "resume_ask": ("get", url("campaign_resume", campaign.pk)),
        "resume": ("post", url("campaign_resume", campaign.pk)),
    }


CASES = [
    # (permissions held, view, allowed)
    ((), "preview", False),
    (("view_messagetemplate",), "preview", True),
    (("view_messagetemplate",), "send_test", False),
    (("add_message",), "send_test", False),
    (("view_messagetemplate", "add_message"), "send_test", True),
    ((), "audience", False),
    (("view_campaign",), "audience", True),
    ((), "status", False),
    (("view_campaign",), "status", True),
    *((("view_campaign",), view, False) for view in ("launch_ask", "launch", "pause_ask", "pause", "resume_ask",
                                                      "resume")),
    *((("change_campaign",), view, True) for view in ("launch_ask", "pause_ask", "pause", "resume_ask", "resume")),
]


@pytest.mark.parametrize(("held", "view", "allowed"), CASES)
def test_each_custom_view_needs_its_permission(staff_client, campaign, providers, held, view, allowed):
    client = staff_client(*held)
    method, address = {**template_views(campaign), **campaign_views(campaign)}[view]

    response = getattr(client, method)(address, {"to": "me@shop.test"} if view == "send_test" else {})

    assert (response.status_code != 403) is allowed, response.status_code
    assert response.status_code in ((200, 302) if allowed else (403,))
    if view == "send_test":
        assert len(mail.outbox) == (1 if allowed else 0)


@pytest.mark.django_db(transaction=True)
def test_launching_needs_the_change_permission(staff_client, campaign, providers):
    refused = staff_client("view_campaign").post(url("campaign_launch", campaign.pk))
    assert refused.status_code == 403 and not campaign.runs.exists()

    client = staff_client("change_campaign")  # a second login replaces the first user's session
    launched = client.post(url("campaign_launch", campaign.pk))

    assert launched.status_code == 302 and len(mail.outbox) == 60


def test_run_status_needs_the_view_permission_of_runs(staff_client, campaign):
    run = campaign.runs.create()

    assert staff_client("view_campaign").get(url("campaignrun_status", run.pk)).status_code == 403


def test_run_status_with_the_view_permission_of_runs(staff_client, campaign):
    run = campaign.runs.create()

    assert staff_client("view_campaignrun").get(url("campaignrun_status", run.pk)).status_code == 200


def test_whoever_may_add_campaigns_may_give_them_rules(staff_client, segmented):
    template = MessageTemplate.objects.create(name="t", channel="sms", body="Hello")
    client = staff_client("add_campaign", "view_campaign")
    data = campaign_form()
    rule_form(data, priority=1, channel="sms", segments=list(segmented.values()), variants=[(template, 1)])

    response = client.post(url("campaign_add"), data)

    assert response.status_code == 302
    assert Campaign.objects.get().rules.count() == 1


def test_the_outbox_is_read_only_even_for_a_superuser(admin_client, db):
    page = admin_client.get(url("message_changelist")).content.decode()

    assert url("message_add") not in page


def test_a_campaign_can_be_looked_at_without_the_permission_to_change_it(staff_client, campaign):
    client = staff_client("view_campaign", "view_messagetemplate")

    page = client.get(url("campaign_change", campaign.pk))

    content = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in content and url("campaign_launch", campaign.pk) not in content
    assert "not scheduled" in content and "HELLO10" in content and "hello-email (weight 1)" in content


def test_a_template_can_be_looked_at_without_the_permission_to_change_it(staff_client, campaign):
    template = MessageTemplate.objects.get(name="hello-sms")

    page = staff_client("view_messagetemplate").get(url("messagetemplate_change", template.pk))

    assert page.status_code == 200 and "{{ offer.discount }} off" in page.content.decode()
