"""The campaign admin in a real browser: a template whose mistake is shown at its line and then
previewed, and a campaign built with two rules, its audience counted, launched and followed."""

import re

import pytest
from django.db.models import Q

from campaigns.channels import sms
from campaigns.models import Campaign, Message, MessageTemplate
from segments.models import Customer, Segment

from .conftest import admin_path, expect

pytestmark = pytest.mark.browser

# Line 3 of the HTML has a filter with no name: Jinja cannot compile it.
BROKEN_HTML = (
    "<p>Hello {{ customer.first_name }},</p>\n"
    "<p>We miss you. Here is {{ offer.discount }} off with {{ offer.code }}.</p>\n"
    "<p>Until {{ offer.expires_at | }}</p>\n"
    '<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>\n'
)
FIXED_HTML = BROKEN_HTML.replace("{{ offer.expires_at | }}", "{{ offer.expires_at }}")


@pytest.fixture
def providers(settings):
    """The test doubles of the providers: anymail's test backend and the in-memory SMS outbox."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def test_a_template_mistake_is_shown_at_its_line_then_the_template_is_previewed(logged_in, segmented_shop):
    page = logged_in
    page.goto(admin_path("campaigns_messagetemplate_add"))
    page.get_by_label("Name").fill("winback-email")
    page.locator("input[name=channel][value=email]").check()
    page.locator("#id_subject").fill("We miss you, {{ customer.first_name }}")
    page.locator("#id_html").fill(BROKEN_HTML)
    page.locator("input[name=_continue]").first.click()

    error = page.locator(".field-html .errorlist")
    expect(error).to_contain_text("line 3")
    page.steps.shot("template-error-at-its-line")
    assert not MessageTemplate.objects.exists()

    page.locator("#id_html").fill(FIXED_HTML)
    page.locator("input[name=_continue]").first.click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    page.steps.shot("template-saved")

    page.get_by_role("link", name="Preview and send a test").click()
    preview = page.locator("#preview")
    expect(preview.locator("#preview-subject")).to_have_text(re.compile(r"^We miss you, "))
    email = page.frame_locator("iframe.segcampaign-email")
    expect(email.get_by_text("Here is 10% off with SAMPLE10")).to_be_visible()
    page.steps.shot("preview-sample-customer")

    # The same template for a real customer, found by their email.
    customer = Customer.objects.exclude(first_name="").exclude(email="").order_by("pk").first()
    page.locator("#preview-form input[name=find]").fill(customer.email)
    page.get_by_role("button", name="Show the preview").click()
    expect(preview.locator("#preview-subject")).to_have_text(f"We miss you, {customer.first_name}")
    page.steps.shot("preview-real-customer")


def reachable(segment: Segment, channel: str) -> int:
    """Members of the segment whom a rule on that channel reaches: an address and consent."""
    address = Q(email__gt="", email_consent=True) if channel == "email" else Q(phone__gt="", sms_consent=True)
    return Customer.objects.filter(address, memberships__segment=segment, memberships__ended_run__isnull=True).count()


def fill_rule(page, index: int, *, priority: int, channel: str, segment: Segment, template: str,
              conditions=()):
    rule = page.locator(f"#rules-{index}")
    rule.locator(f"#id_rules-{index}-priority").fill(str(priority))
    rule.locator(f"#id_rules-{index}-channel").select_option(channel)
    rule.get_by_label(f"{segment.name} ({segment.size:,} customers)", exact=True).check()
    for i, (field, op, value) in enumerate(conditions):
        rule.locator(f"input[name='rules-{index}-conditions-{i}-field']").fill(field)
        rule.locator(f"select[name='rules-{index}-conditions-{i}-op']").select_option(op)
        rule.locator(f"input[name='rules-{index}-conditions-{i}-value']").fill(value)
    rule.locator(f"select[name='rules-{index}-variants-0-template']").select_option(label=f"{template} ({'Email' if channel == 'email' else 'SMS'})")
    rule.locator(f"#id_rules-{index}-offer_code").fill(f"BACK{priority}")
    rule.locator(f"#id_rules-{index}-offer_discount").fill("15%")


def test_build_a_campaign_with_two_rules_count_its_audience_launch_it_and_follow_it(
    logged_in, segmented_shop, providers
):
    page = logged_in
    MessageTemplate.objects.create(
        name="winback-email", channel="email", subject="We miss you, {{ customer.first_name }}",
        html=FIXED_HTML,
    )
    MessageTemplate.objects.create(name="winback-sms", channel="sms", body="{{ offer.discount }} off: {{ offer.code }}")
    first, second = Segment.objects.filter(is_active=True).order_by("-size")[:2]

    page.goto(admin_path("campaigns_campaign_add"))
    page.get_by_label("Name").fill("Spring winback")
    page.get_by_label("Hold out (%)").fill("0")
    page.locator("#id_quiet_start").fill("")  # no quiet hours: every message goes now, whatever the hour
    page.locator("#id_quiet_end").fill("")
    fill_rule(page, 0, priority=1, channel="email", segment=first, template="winback-email",
              conditions=[("monetary", ">=", "0")])
    page.get_by_role("button", name="Add another Rule").click()
    fill_rule(page, 1, priority=2, channel="sms", segment=second, template="winback-sms")
    page.steps.shot("campaign-with-two-rules")
    page.locator("input[name=_continue]").first.click()

    expect(page.locator(".messagelist .success")).to_be_visible()
    page.steps.shot("campaign-saved")
    campaign = Campaign.objects.get(name="Spring winback")
    assert campaign.rules.count() == 2

    # Who it would reach: each rule's count is its segment's members with an address and consent.
    emails, texts = reachable(first, "email"), reachable(second, "sms")
    assert emails and texts, "the sample shop should give both rules someone to reach"
    page.get_by_role("link", name="See who it would reach now (nothing is sent)").click()
    by_rule = dict(zip(page.locator("#plan-rules th").all_inner_texts(),
                       page.locator("#plan-rules td").all_inner_texts()))
    assert [int(n.replace(",", "")) for n in by_rule.values()] == [emails, texts], by_rule
    page.steps.shot("audience")

    page.get_by_role("link", name="Launch now…").click()
    page.steps.shot("launch-confirm")
    page.get_by_role("button", name="Yes, launch Spring winback").click()

    expect(page.locator(".messagelist .success")).to_contain_text(f"{emails + texts:,} messages to send")
    progress = page.locator("#run-progress")
    expect(progress.locator(".percent")).to_have_text("100%")
    expect(progress.locator("[data-figure=sent]")).to_have_text(f"{emails + texts:,}")
    expect(progress.locator("[data-figure=failed]")).to_have_text("0")
    page.steps.shot("launched-progress")
    assert Message.objects.filter(status=Message.Status.SENT).count() == emails + texts
    assert len(sms.outbox) == texts
