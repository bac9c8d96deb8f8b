"""SMS backends: Twilio through the real SDK with a fake HTTP client, console, file, locmem."""

import io
import json
import multiprocessing

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from twilio.http import HttpClient
from twilio.http.response import Response

from campaigns.channels import (
    TWILIO_DELIVERY_ERRORS,
    TWILIO_STATUSES,
    Code,
    Event,
    OutgoingMessage,
    get_sms_backend,
    twilio_error,
)
from campaigns.channels import sms as sms_module
from campaigns.channels.sms import ConsoleBackend, FileBackend, LocmemBackend, TwilioBackend

ACCOUNT = "AC" + "0" * 32
CALLBACK = "https://shop.example.com/sms/twilio/status/"


class FakeTwilioHttp(HttpClient):
    """Twilio's HTTP boundary: records each request, answers from `answers` (one per request;
    an exception instance is raised), or with a created message."""

    def __init__(self, answers=()):
        super().__init__(logger=None, is_async=False)
        self.answers = list(answers)
        self.requests = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False):
        self.requests.append({"method": method, "url": uri, "data": dict(data or {}), "auth": auth})
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            sid = f"SM{len(self.requests):032d}"
            answer = Response(201, json.dumps({"sid": sid, "status": "queued", "to": data["To"], "body": data["Body"]}))
        return answer


def twilio_failure(status, code, message):
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return Response(status, json.dumps(body))


def sms(message_id, to="+447700900123", body="10% off: SAMPLE10\nReply STOP to opt out"):
    return OutgoingMessage(message_id=str(message_id), to=to, body=body)


def twilio(http, **options):
    options = {"account_sid": ACCOUNT, "auth_token": "secret", "from_number": "+447700900000", **options}
    return TwilioBackend(http_client=http, status_callback=CALLBACK, **options)


def test_twilio_receives_to_body_from_and_the_status_callback():
    http = FakeTwilioHttp()

    results = twilio(http, messaging_service_sid="").send_messages([sms(1), sms(2, to="+447700900456")])

    assert [(r.message_id, r.provider_id) for r in results] == [("1", f"SM{1:032d}"), ("2", f"SM{2:032d}")]
    first = http.requests[0]
    assert first["method"] == "POST"
    assert first["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert first["auth"] == (ACCOUNT, "secret")
    assert first["data"] == {
        "To": "+447700900123",
        "Body": "10% off: SAMPLE10\nReply STOP to opt out",
        "From": "+447700900000",
        "StatusCallback": CALLBACK,
    }
    assert http.requests[1]["data"]["To"] == "+447700900456"


def test_a_messaging_service_picks_the_sender_from_its_pool():
    http = FakeTwilioHttp()

    twilio(http, from_number="", messaging_service_sid="MG" + "1" * 32).send_messages([sms(1)])

    data = http.requests[0]["data"]
    assert data["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in data


@pytest.mark.parametrize(
    "status, code, permanent, kind, suppress",
    [
        (400, 21211, True, Code.INVALID_RECIPIENT, True),
        (400, 21610, True, Code.UNSUBSCRIBED, True),
        (400, 21614, True, Code.NOT_MOBILE, True),
        (400, 21408, True, Code.UNREACHABLE, False),
        (400, 21617, True, Code.INVALID_MESSAGE, False),
        (429, 20429, False, Code.RATE_LIMITED, False),
        (401, 20003, False, Code.AUTH, False),
        (500, 20500, False, Code.PROVIDER_UNAVAILABLE, False),
        (503, 99999, False, Code.PROVIDER_UNAVAILABLE, False),
        (429, 99998, False, Code.RATE_LIMITED, False),
        (400, 99997, True, Code.FAILED, False),
    ],
)
def test_twilio_errors_are_permanent_or_temporary_by_their_code(status, code, permanent, kind, suppress):
    http = FakeTwilioHttp([twilio_failure(status, code, "Twilio says no")])

    [result] = twilio(http).send_messages([sms(1)])

    error = result.error
    assert (error.permanent, error.code, error.suppresses_recipient) == (permanent, kind, suppress)
    assert error.message == f"Twilio error {code}: Unable to create record: Twilio says no"


def test_an_error_without_a_twilio_code_is_judged_by_its_http_status():
    http = FakeTwilioHttp([Response(502, "<html>Bad gateway</html>")])

    [result] = twilio(http).send_messages([sms(1)])

    assert (result.error.permanent, result.error.code) == (False, Code.PROVIDER_UNAVAILABLE)


def test_a_network_error_is_temporary_and_the_batch_goes_on():
    http = FakeTwilioHttp([requests.ConnectionError("connection refused"), None])

    results = twilio(http).send_messages([sms(1), sms(2)])

    assert (results[0].error.permanent, results[0].error.code) == (False, Code.NETWORK)
    assert results[1].ok and len(http.requests) == 2


def test_the_twilio_backend_needs_its_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ""

    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID"):
        TwilioBackend(http_client=FakeTwilioHttp())


def test_the_twilio_backend_reads_the_settings(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, "from-settings"
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID = "+447700900999", ""
    http = FakeTwilioHttp()

    backend = get_sms_backend(http_client=http)
    backend.send_messages([sms(1)])

    assert isinstance(backend, TwilioBackend)
    assert http.requests[0]["auth"] == (ACCOUNT, "from-settings")
    assert http.requests[0]["data"]["From"] == "+447700900999"
    assert "StatusCallback" not in http.requests[0]["data"]


def test_without_a_fake_the_sdk_client_waits_a_bounded_time(settings):
    backend = TwilioBackend(account_sid=ACCOUNT, auth_token="secret", from_number="+447700900000", timeout=7)

    assert backend.client.http_client.timeout == 7


def test_twilio_statuses_and_delivery_errors_have_tables():
    assert TWILIO_STATUSES["delivered"] == Event.DELIVERED
    assert TWILIO_STATUSES["undelivered"] == Event.BOUNCED
    permanent, code = TWILIO_DELIVERY_ERRORS[30005]
    assert (permanent, code) == (True, Code.INVALID_RECIPIENT)
    assert twilio_error(30003, None, "handset off").permanent is False


def test_the_backend_is_chosen_by_the_sms_backend_setting(settings):
    settings.SMS_BACKEND = "console"
    assert isinstance(get_sms_backend(), ConsoleBackend)
    assert isinstance(get_sms_backend("file"), FileBackend)
    assert isinstance(get_sms_backend("campaigns.channels.sms.LocmemBackend"), LocmemBackend)
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND must be one of twilio, console, file, locmem"):
        get_sms_backend("pigeon")


def test_the_console_backend_writes_each_sms_to_its_stream():
    stream = io.StringIO()

    results = ConsoleBackend(stream=stream).send_messages([sms(1), sms(2, body="Second")])

    assert all(r.ok for r in results)
    assert stream.getvalue() == (
        "--- SMS 1 to +447700900123 ---\n10% off: SAMPLE10\nReply STOP to opt out\n\n"
        "--- SMS 2 to +447700900123 ---\nSecond\n\n"
    )


def test_the_file_backend_appends_one_json_object_per_sms(settings, tmp_path):
    settings.SMS_FILE_PATH = tmp_path / "out" / "sms.jsonl"

    get_sms_backend("file", status_callback=CALLBACK).send_messages([sms(1)])
    results = get_sms_backend("file").send_messages([sms(2, body="Zoë: 10€")])

    lines = [json.loads(line) for line in settings.SMS_FILE_PATH.read_text().splitlines()]
    assert [(line["message_id"], line["body"], line["status_callback"]) for line in lines] == [
        ("1", "10% off: SAMPLE10\nReply STOP to opt out", CALLBACK),
        ("2", "Zoë: 10€", None),
    ]
    assert results[0].ok


def _append_many(path, writer, count):
    backend = FileBackend(path=path)
    for i in range(count):
        backend.send_messages([sms(f"{writer}-{i}-{j}", body=f"{writer} " * 200) for j in range(3)])


def test_two_processes_appending_at_once_never_interleave_lines(tmp_path):
    path = tmp_path / "sms.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, w, 150)) for w in ("a", "b")]

    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)

    assert [w.exitcode for w in writers] == [0, 0]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 900
    assert {line["message_id"].split("-")[0] for line in lines} == {"a", "b"}


def test_the_file_backend_reports_a_write_failure_as_temporary(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    [result] = FileBackend(path=blocker / "sms.jsonl").send_messages([sms(1)])

    assert (result.error.permanent, result.error.code) == (False, Code.FAILED)


def test_the_locmem_backend_keeps_what_it_sent(monkeypatch):
    monkeypatch.setattr(sms_module, "outbox", [])

    results = LocmemBackend().send_messages([sms(1), sms(2)])

    assert [m.message_id for m in sms_module.outbox] == ["1", "2"]
    assert [r.provider_id for r in results] == ["locmem-1", "locmem-2"]
