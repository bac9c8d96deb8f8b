"""The email channel, through anymail's test backend and through anymail's real Postmark
backend talking HTTP to a local stand-in of Postmark's API."""

import re

import pytest
from anymail.exceptions import AnymailConfigurationError
from django.core import mail

from campaigns.channels import Code, EmailChannel, OutgoingMessage
from campaigns.channels.standin import PostmarkStandIn
from campaigns.rendering import SAMPLE_CONTEXT, compile_template

UNSUBSCRIBE = SAMPLE_CONTEXT["links"]["unsubscribe"]
TEMPLATE = compile_template(
    "email",
    subject="{{ customer.first_name }}, {{ offer.discount }} off",
    html='<p>Hi {{ customer.first_name }}</p><p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>',
)


def message(message_id, to="ada@example.com"):
    return OutgoingMessage.email(message_id=message_id, to=to, rendered=TEMPLATE.render(SAMPLE_CONTEXT))


@pytest.fixture
def postmark(settings):
    with PostmarkStandIn() as standin:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": standin.token, "POSTMARK_API_URL": standin.url}
        yield standin


def test_it_sends_each_message_with_its_parts_headers_and_message_id(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "Example Shop <shop@example.com>"

    results = EmailChannel().send_messages([message(41), message(42, to="bob@example.com")])

    assert [(r.message_id, r.provider_id, r.ok) for r in results] == [("41", "0", True), ("42", "1", True)]
    sent = mail.outbox[0]
    assert sent.to == ["ada@example.com"]
    assert sent.from_email == "Example Shop <shop@example.com>"
    assert sent.subject == "Ada, 10% off"
    assert sent.body == f"Hi Ada\n\nUnsubscribe ({UNSUBSCRIBE})"
    assert sent.alternatives[0][1] == "text/html"
    assert sent.alternatives[0][0].startswith("<p>Hi Ada</p>")
    assert sent.extra_headers == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert sent.anymail_test_params["metadata"] == {"message_id": "41"}
    assert mail.outbox[1].anymail_test_params["metadata"] == {"message_id": "42"}


def test_extra_metadata_travels_with_the_message_id(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    outgoing = message(7)
    outgoing.metadata = {"campaign_run": "3", "message_id": "overridden"}

    EmailChannel().send_messages([outgoing])

    assert mail.outbox[0].anymail_test_params["metadata"] == {"campaign_run": "3", "message_id": "7"}


def test_postmark_receives_the_message_as_its_api_expects(postmark):
    results = EmailChannel().send_messages([message(42)])

    assert results[0].ok
    assert re.fullmatch(r"[0-9a-f-]{36}", results[0].provider_id)
    [received] = postmark.received
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Ada, 10% off"
    assert received["HtmlBody"].startswith("<p>Hi Ada</p>")
    assert received["TextBody"] == f"Hi Ada\n\nUnsubscribe ({UNSUBSCRIBE})"
    assert received["Metadata"] == {"message_id": "42"}
    assert {h["Name"]: h["Value"] for h in received["Headers"]} == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_a_batch_goes_through_one_connection(postmark):
    results = EmailChannel().send_messages([message(i, to=f"c{i}@example.com") for i in range(5)])

    assert all(r.ok for r in results)
    assert postmark.requests == 5
    assert len(postmark.connections) == 1


def test_an_inactive_recipient_is_a_permanent_error_and_the_batch_goes_on(postmark):
    postmark.inactive = {"gone@example.com"}

    results = EmailChannel().send_messages([message(1, to="gone@example.com"), message(2)])

    error = results[0].error
    assert (error.permanent, error.code, error.suppresses_recipient) == (True, Code.REJECTED_RECIPIENT, True)
    assert results[1].ok
    assert len(postmark.received) == 2


def test_an_invalid_address_is_a_permanent_error(postmark):
    postmark.invalid = {"not-an-address@example.com"}

    [result] = EmailChannel().send_messages([message(1, to="not-an-address@example.com")])

    assert (result.error.permanent, result.error.code) == (True, Code.INVALID_RECIPIENT)


@pytest.mark.parametrize(
    "status, code",
    [(429, Code.RATE_LIMITED), (500, Code.PROVIDER_UNAVAILABLE), (503, Code.PROVIDER_UNAVAILABLE)],
)
def test_rate_limits_and_provider_errors_are_temporary(postmark, status, code):
    postmark.fail_with = status

    [result] = EmailChannel().send_messages([message(1)])

    assert (result.error.permanent, result.error.code) == (False, code)
    assert f"{status}" in result.error.message


def test_refused_credentials_are_temporary_so_the_operator_can_fix_them(postmark, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "wrong"}

    [result] = EmailChannel().send_messages([message(1)])

    assert (result.error.permanent, result.error.code, result.error.suppresses_recipient) == (False, Code.AUTH, False)


def test_an_unreachable_provider_is_a_temporary_network_error(settings):
    standin = PostmarkStandIn().start()
    standin.stop()  # nothing listens on its port any more
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": standin.token, "POSTMARK_API_URL": standin.url, "REQUESTS_TIMEOUT": 2}

    results = EmailChannel().send_messages([message(1), message(2)])

    assert [(r.error.permanent, r.error.code) for r in results] == [(False, Code.NETWORK)] * 2


def test_concurrent_sending_overlaps_requests_and_keeps_the_order(settings):
    with PostmarkStandIn(latency=0.05) as standin:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": standin.token, "POSTMARK_API_URL": standin.url}
        standin.inactive = {"c3@example.com"}

        results = EmailChannel(concurrency=4).send_messages([message(i, to=f"c{i}@example.com") for i in range(8)])

    assert [r.message_id for r in results] == [str(i) for i in range(8)]
    assert [r.ok for r in results] == [True, True, True, False, True, True, True, True]
    assert standin.max_in_flight >= 2
    assert len(standin.connections) == 4


def test_a_misconfigured_backend_raises_instead_of_failing_every_message(settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {}

    with pytest.raises(AnymailConfigurationError):
        EmailChannel().send_messages([message(1)])


def test_the_default_file_backend_writes_the_email_with_its_headers(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path

    results = EmailChannel().send_messages([message(1), message(2)])

    assert [(r.ok, r.provider_id) for r in results] == [(True, None), (True, None)]
    [written] = tmp_path.iterdir()  # one file for the batch's one connection
    content = written.read_text()
    assert content.count("List-Unsubscribe-Post: List-Unsubscribe=One-Click") == 2
    assert "Subject: Ada, 10% off" in content


def test_concurrent_sending_keeps_its_threads_and_connections_for_every_call_until_closed(postmark):
    channel = EmailChannel(concurrency=4)

    for call in range(3):  # a send task's slices
        results = channel.send_messages([message(i, to=f"c{call}-{i}@example.com") for i in range(8)])
        assert all(r.ok for r in results)
    kept = set(postmark.connections)
    channel.close()
    channel.send_messages([message(i) for i in range(2)])
    channel.close()

    assert postmark.requests == 26
    assert len(kept) <= 4  # was 4 new connections per call
    assert len(postmark.connections) > len(kept)  # closed ones are not used again


def test_concurrent_sending_still_goes_through_the_proxy_the_environment_names(postmark, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)

    with EmailChannel(concurrency=2) as channel:
        results = channel.send_messages([message(1), message(2)])

    assert [r.error.code for r in results] == [Code.NETWORK, Code.NETWORK]
    assert postmark.requests == 0
