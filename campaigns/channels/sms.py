"""SMS backends, chosen by the SMS_BACKEND setting in the spirit of Django's email backends.

- `twilio`: Twilio's Messages API through the Twilio SDK, from TWILIO_FROM_NUMBER or the
  sender pool of TWILIO_MESSAGING_SERVICE_SID, with a status callback URL if given;
- `console`: writes each SMS to a stream (stdout by default);
- `file`: appends one JSON object per SMS to SMS_FILE_PATH, safe when processes append at once;
- `locmem`: keeps them in `outbox` (for tests).

    backend = get_sms_backend(status_callback="https://shop.example.com/sms/twilio/status/")
    results = backend.send_messages(messages)   # one SendResult per message, in order
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

try:
    import fcntl
except ImportError:  # not POSIX: appends are still single writes, just not locked
    fcntl = None

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .base import ChannelError, Code, Event, OutgoingMessage, SendResult

# Twilio's error codes for a message it refused when asked to send it -> (permanent, code).
# https://www.twilio.com/docs/api/errors
TWILIO_ERRORS: dict[int, tuple[bool, Code]] = {
    21211: (True, Code.INVALID_RECIPIENT),  # Invalid 'To' phone number
    21604: (True, Code.INVALID_RECIPIENT),  # 'To' phone number is required
    21610: (True, Code.UNSUBSCRIBED),  # the recipient replied STOP to this sender
    21614: (True, Code.NOT_MOBILE),  # 'To' is not a valid mobile number (a landline, say)
    21635: (True, Code.NOT_MOBILE),  # 'To' number cannot be a landline
    21612: (True, Code.UNREACHABLE),  # the To/From combination cannot be routed
    21408: (True, Code.UNREACHABLE),  # the destination's region is disabled in Geo Permissions
    21602: (True, Code.INVALID_MESSAGE),  # Message body is required
    21617: (True, Code.INVALID_MESSAGE),  # the body exceeds the 1600 character limit
    21606: (False, Code.CONFIG),  # 'From' is not a message-capable Twilio number for this destination
    21608: (False, Code.CONFIG),  # trial account: 'To' is not a verified number
    20003: (False, Code.AUTH),  # authentication failed
    20429: (False, Code.RATE_LIMITED),  # too many requests
    20500: (False, Code.PROVIDER_UNAVAILABLE),  # internal server error
    20503: (False, Code.PROVIDER_UNAVAILABLE),  # service unavailable
}

# Error codes in a status callback of a message that was not delivered -> (permanent, code).
TWILIO_DELIVERY_ERRORS: dict[int, tuple[bool, Code]] = {
    30003: (False, Code.UNREACHABLE),  # handset off or out of coverage
    30004: (True, Code.REJECTED_RECIPIENT),  # message blocked, by the recipient or the carrier
    30005: (True, Code.INVALID_RECIPIENT),  # unknown destination handset
    30006: (True, Code.NOT_MOBILE),  # landline or unreachable carrier
    30007: (False, Code.INVALID_MESSAGE),  # carrier filtering: the content, not the number
    30008: (False, Code.FAILED),  # unknown error
}

# Twilio MessageStatus values (status callbacks) -> Event.
TWILIO_STATUSES: dict[str, Event] = {
    "accepted": Event.QUEUED,
    "scheduled": Event.QUEUED,
    "queued": Event.QUEUED,
    "sending": Event.QUEUED,
    "sent": Event.SENT,
    "delivered": Event.DELIVERED,
    "read": Event.OPENED,
    "undelivered": Event.BOUNCED,
    "failed": Event.FAILED,
    "canceled": Event.FAILED,
}


# The HTTP status of an error whose code is not in TWILIO_ERRORS -> (permanent, code). Any
# other 5xx is Twilio being unavailable; any other 4xx a permanent failure.
TWILIO_HTTP_ERRORS: dict[int, tuple[bool, Code]] = {
    401: (False, Code.AUTH),
    403: (False, Code.AUTH),
    429: (False, Code.RATE_LIMITED),
}


def twilio_error(code: int | None, status: int | None, message: str) -> ChannelError:
    """The ChannelError for a Twilio error code, or for its HTTP status."""
    failure = TWILIO_ERRORS.get(code) or TWILIO_HTTP_ERRORS.get(status)
    if failure is None:
        failure = (True, Code.FAILED) if status is not None and status < 500 else (False, Code.PROVIDER_UNAVAILABLE)
    permanent, kind = failure
    return ChannelError(f"Twilio error {code}: {message}" if code else message, permanent, kind)


class SmsBackend:
    """Sends SMS. Subclasses implement `send_one`, returning the provider's id or raising
    ChannelError; `send_messages` turns that into one SendResult per message."""

    def __init__(self, *, status_callback: str | None = None, **kwargs: Any):
        self.status_callback = status_callback

    def send_messages(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        results = []
        for message in messages:
            try:
                results.append(SendResult(message.message_id, provider_id=self.send_one(message)))
            except ChannelError as error:
                results.append(SendResult(message.message_id, error=error))
        return results

    def send_one(self, message: OutgoingMessage) -> str | None:
        raise NotImplementedError


class TwilioBackend(SmsBackend):
    """Twilio's Messages API. `http_client` replaces the SDK's (a twilio.http.HttpClient);
    the SDK's own waits `timeout` seconds for an answer (it would wait forever by default)."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        http_client: Any = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.from_number = from_number if from_number is not None else settings.TWILIO_FROM_NUMBER
        self.messaging_service_sid = (
            messaging_service_sid if messaging_service_sid is not None else settings.TWILIO_MESSAGING_SERVICE_SID
        )
        account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        if not (account_sid and auth_token and (self.from_number or self.messaging_service_sid)):
            raise ImproperlyConfigured(
                "the Twilio SMS backend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
            )
        self.client = Client(account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout))

    def send_one(self, message: OutgoingMessage) -> str | None:
        options: dict[str, Any] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        if message.sender or not self.messaging_service_sid:
            options["from_"] = message.sender or self.from_number
        if self.status_callback:
            options["status_callback"] = self.status_callback
        try:
            return self.client.messages.create(**options).sid
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _rest_error(exc) from exc
        except requests.RequestException as exc:
            raise ChannelError(f"could not reach Twilio: {exc}", False, Code.NETWORK) from exc


def _rest_error(exc: TwilioRestException | TwilioServiceException) -> ChannelError:
    message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "") or ""
    code = exc.code if isinstance(exc.code, int) and exc.code != exc.status else None
    return twilio_error(code, exc.status, message)


class ConsoleBackend(SmsBackend):
    """Writes each SMS to `stream` (stdout by default)."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.stream = stream
        self._lock = threading.Lock()

    def send_one(self, message: OutgoingMessage) -> str | None:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(f"--- SMS {message.message_id} to {message.to} ---\n{message.body}\n\n")
            stream.flush()
        return None


class FileBackend(SmsBackend):
    """Appends one JSON object per SMS (a line) to `path` (SMS_FILE_PATH by default).

    A batch is written with one write() to a file opened with O_APPEND, under an exclusive
    flock: two processes appending at once never interleave their lines."""

    def __init__(self, *, path: str | Path | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send_messages(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        written_at = dt.datetime.now(dt.UTC).isoformat()
        lines = "".join(
            json.dumps(
                {
                    "message_id": m.message_id,
                    "to": m.to,
                    "from": m.sender,
                    "body": m.body,
                    "metadata": m.metadata,
                    "status_callback": self.status_callback,
                    "written_at": written_at,
                },
                ensure_ascii=False,
            )
            + "\n"
            for m in messages
        ).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _append(self.path, lines)
        except OSError as exc:
            error = ChannelError(f"could not write {self.path}: {exc}", False, Code.FAILED)
            return [SendResult(m.message_id, error=error) for m in messages]
        return [SendResult(m.message_id) for m in messages]


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)  # releases the lock


# What the locmem backend has sent, like django.core.mail.outbox.
outbox: list[OutgoingMessage] = []


class LocmemBackend(SmsBackend):
    def send_one(self, message: OutgoingMessage) -> str | None:
        outbox.append(message)
        return f"locmem-{len(outbox)}"


SMS_BACKENDS: dict[str, type[SmsBackend]] = {
    "twilio": TwilioBackend,
    "console": ConsoleBackend,
    "file": FileBackend,
    "locmem": LocmemBackend,
}


def get_sms_backend(name: str | None = None, **kwargs: Any) -> SmsBackend:
    """The backend named (by SMS_BACKEND by default): one of SMS_BACKENDS or a dotted path
    to a SmsBackend subclass. Keyword arguments go to its constructor."""
    name = name or settings.SMS_BACKEND
    backend = SMS_BACKENDS.get(name)
    if backend is None:
        try:
            backend = import_string(name)
        except ImportError:
            raise ImproperlyConfigured(
                f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)} or a dotted path, got {name!r}"
            ) from None
    return backend(**kwargs)
