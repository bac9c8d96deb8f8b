"""Message template admin: checks on save (errors at their line, warnings that do not block), the
preview for a customer, a segment's member or the sample, and test sends through fake providers."""

import html

from django.contrib.messages import get_messages
from django.core import mail

from campaigns.models import MessageTemplate, Rule
from segments.models import Customer

from .conftest import url

EMAIL = {"name": "welcome", "channel": "email", "subject": "Hi {{ customer.first_name }}", "text": "", "body": "",
         "html": '<p>Welcome</p>\n<p>{{ shop.name }}</p>\n<a href="{{ links.unsubscribe }}">Unsubscribe</a>'}


def test_a_syntax_error_is_shown_under_its_field_at_its_line(admin_client):
    broken = {**EMAIL, "html": "<p>one</p>\n<p>two</p>\n<p>{{ customer.first_name </p>"}

    page = admin_client.post(url("messagetemplate_add"), broken)

    assert page.status_code == 200
    assert page.context["adminform"].form.errors["html"] == ["line 3: unexpected '/'"]
    assert "line 3: unexpected &#x27;/&#x27;" in page.content.decode()
    assert not MessageTemplate.objects.exists()


def test_an_unknown_field_is_named_with_its_line_and_a_suggestion(admin_client):
    page = admin_client.post(url("messagetemplate_add"), {**EMAIL, "subject": "Hi {{ customer.frist_name }}"})

    (error,) = page.context["adminform"].form.errors["subject"]
    assert error.startswith("line 1: customer has no field 'frist_name' (did you mean 'first_name'?)")


def test_a_warning_does_not_stop_the_save_and_is_shown_on_the_page(admin_client):
    sms = {"name": "smart-quote", "channel": "sms", "body": "It’s 10% off today", "subject": "", "html": "", "text": ""}

    saved = admin_client.post(url("messagetemplate_add"), sms, follow=True)

    template = MessageTemplate.objects.get(name="smart-quote")
    notes = [str(m) for m in get_messages(saved.wsgi_request)]
    assert any("U+2019" in note and "UCS-2" in note for note in notes)
    page = admin_client.get(url("messagetemplate_change", template.pk)).content.decode()
    assert 'id="template-warnings"' in page and "U+2019 RIGHT SINGLE QUOTATION MARK" in page


def test_the_sms_counter_gets_the_gsm7_alphabet_and_the_opt_out_text(admin_client, settings):
    settings.SMS_OPT_OUT_TEXT = "Reply STOP to end"

    page = admin_client.get(url("messagetemplate_add")).content.decode()

    assert 'id="sms-counter-data"' in page and 'id="sms-counter"' in page
    assert '"opt_out": "Reply STOP to end"' in page and '"single_gsm7": 160' in page and '"part_ucs2": 67' in page


def test_a_template_a_rule_sends_cannot_change_channel(admin_client, campaign):
    template = MessageTemplate.objects.get(name="hello-email")

    page = admin_client.post(url("messagetemplate_change", template.pk), {
        "name": "hello-email", "channel": "sms", "body": "Hi", "subject": "", "html": "", "text": ""})

    assert "rule 1 of Test campaign" in " ".join(page.context["adminform"].form.errors["channel"])
    assert MessageTemplate.objects.get(pk=template.pk).channel == "email"


# --- preview ---------------------------------------------------------------------------------------


def test_the_preview_renders_for_a_customer_found_by_id_with_the_html_in_a_sandboxed_frame(admin_client, campaign):
    template = MessageTemplate.objects.get(name="hello-email")
    customer = Customer.objects.get(external_id="C0003")

    page = admin_client.get(url("messagetemplate_preview", template.pk), {"find": "C0003"})

    content = page.content.decode()
    assert page.context["preview"].recipient.customer_id == customer.pk
    assert '<td id="preview-subject">Hi Name3</td>' in content
    frame = content[content.index("<iframe"):content.index("</iframe>")]
    assert 'sandbox=""' in frame
    # The email's HTML sits escaped in srcdoc: nothing of it is part of the admin page itself.
    assert "srcdoc=\"&lt;p&gt;10% off with SAMPLE10" in frame
    assert "c3@mail.test" in content


def test_the_preview_lists_customers_when_an_email_beginning_matches_several(admin_client, campaign):
    template = MessageTemplate.objects.get(name="hello-email")

    page = admin_client.get(url("messagetemplate_preview", template.pk), {"find": "c1"})

    assert page.context["preview"] is None
    listed = {match["customer"].email for match in page.context["matches"]}
    assert listed == {"c1@mail.test", *(f"c{n}@mail.test" for n in range(10, 20))}


def test_the_preview_for_a_segment_shows_one_of_its_members_with_the_rules_offer(admin_client, campaign, segmented):
    template = MessageTemplate.objects.get(name="hello-email")
    rule = Rule.objects.get(campaign=campaign)
    segment = next(iter(segmented.values()))

    page = admin_client.get(url("messagetemplate_preview", template.pk), {"segment": segment.pk, "rule": rule.pk})

    recipient = page.context["preview"].recipient
    member = Customer.objects.get(pk=recipient.customer_id)
    assert member.memberships.get(ended_run__isnull=True).segment == segment
    assert recipient.description.endswith(f"in {segment.name}")
    assert "10% off with HELLO10" in html.unescape(page.content.decode())
    # A test send goes to exactly this member, not to one found again.
    assert f"customer_id={member.pk}" in page.context["send_url"]


def test_the_preview_shows_why_a_template_cannot_be_sent_to_a_customer(admin_client, campaign):
    template = MessageTemplate.objects.get(name="hello-sms")
    rule = Rule.objects.get(campaign=campaign)
    rule.offer_code = rule.offer_discount = ""
    rule.save()

    page = admin_client.get(url("messagetemplate_preview", template.pk), {"rule": rule.pk})

    assert page.context["preview"].problem is not None
    assert 'id="preview-problem"' in page.content.decode()
    assert 'id="send-test-form"' not in page.content.decode()


def test_an_sms_preview_shows_its_length_and_the_opt_out_text(admin_client, campaign, settings):
    template = MessageTemplate.objects.get(name="hello-sms")

    page = admin_client.get(url("messagetemplate_preview", template.pk)).content.decode()

    assert "10% off: SAMPLE10\nReply STOP to opt out</div>" in page
    assert "39 characters (GSM-7): 1 SMS" in page


# --- test sends ------------------------------------------------------------------------------------


def test_a_test_email_goes_to_the_typed_address_with_the_customers_data_and_a_test_subject(
    admin_client, campaign, providers
):
    template = MessageTemplate.objects.get(name="hello-email")
    customer = Customer.objects.get(external_id="C0002")
    send = url("messagetemplate_send_test", template.pk) + f"?customer_id={customer.pk}"

    page = admin_client.post(send, {"to": "me@shop.test"}, follow=True)

    (sent,) = mail.outbox
    assert sent.to == ["me@shop.test"] and sent.subject == "[TEST] Hi Name2"
    assert "c2@mail.test" not in str(sent.message())
    notes = [str(m) for m in get_messages(page.wsgi_request)]
    assert any(note.startswith("The test was sent to me@shop.test") for note in notes)
    assert page.context["preview"].recipient.customer_id == customer.pk  # back on the same preview


def test_a_test_sms_goes_to_the_typed_number_with_the_rules_offer(admin_client, campaign, providers):
    template = MessageTemplate.objects.get(name="hello-sms")
    rule = Rule.objects.get(campaign=campaign)

    admin_client.post(url("messagetemplate_send_test", template.pk) + f"?rule={rule.pk}", {"to": "07700 900456"})

    (sent,) = providers
    assert sent.to == "+447700900456"
    assert sent.body == "[TEST] 10% off: HELLO10\nReply STOP to opt out"


def test_a_test_to_something_that_is_no_address_sends_nothing(admin_client, campaign, providers):
    template = MessageTemplate.objects.get(name="hello-email")

    page = admin_client.post(url("messagetemplate_send_test", template.pk), {"to": "not an address"}, follow=True)

    assert mail.outbox == []
    assert any(str(m).startswith("Nothing was sent") for m in get_messages(page.wsgi_request))
