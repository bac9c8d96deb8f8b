"""Email through Django's mail API, so that any anymail ESP backend (or one of Django's own)
sends it: one connection per batch, one EmailMultiAlternatives per message.

Each message carries anymail metadata {"message_id": ...}, which ESPs echo in their
tracking webhooks, and the one-click List-Unsubscribe headers from its rendering. The
provider's id for it is read from anymail's `message.anymail_status` (backends that are not
anymail's, such as the file backend, give none).
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.backends.base_requests import AnymailRequestsBackend
from django.core.mail import EmailMultiAlternatives, get_connection

from .base import ChannelError, Code, Event, OutgoingMessage, SendResult

# anymail's per-recipient send status -> (permanent, code) of the failure; None: accepted.
SEND_STATUS_ERRORS: dict[str, tuple[bool, Code] | None] = {
    "sent": None,
    "queued": None,
    "unknown": None,  # the ESP did not say; it accepted the message
    "invalid": (True, Code.INVALID_RECIPIENT),
    "rejected": (True, Code.REJECTED_RECIPIENT),  # hard bounce, complaint or suppression before
    "failed": (False, Code.FAILED),
}

# An ESP API's HTTP status -> (permanent, code), when the answer is not about a recipient.
# Any other 5xx is the provider being unavailable; any other 4xx a permanent failure.
HTTP_STATUS_ERRORS: dict[int, tuple[bool, Code]] = {
    400: (True, Code.INVALID_MESSAGE),
    401: (False, Code.AUTH),
    403: (False, Code.AUTH),
    404: (False, Code.CONFIG),
    413: (True, Code.INVALID_MESSAGE),
    422: (True, Code.INVALID_MESSAGE),
    429: (False, Code.RATE_LIMITED),
}

# Errors that say all they need to by their class.
EXCEPTION_ERRORS: tuple[tuple[type[BaseException], tuple[bool, Code]], ...] = (
    (AnymailInvalidAddress, (True, Code.INVALID_RECIPIENT)),
    (AnymailSerializationError, (True, Code.INVALID_MESSAGE)),
    (AnymailUnsupportedFeature, (True, Code.INVALID_MESSAGE)),
    (smtplib.SMTPRecipientsRefused, (True, Code.REJECTED_RECIPIENT)),
    (smtplib.SMTPException, (False, Code.NETWORK)),
    (requests.RequestException, (False, Code.NETWORK)),
    (OSError, (False, Code.NETWORK)),
)

# anymail's normalized tracking event types (AnymailTrackingEvent.event_type) -> Event.
ANYMAIL_EVENTS: dict[str, Event] = {
    "queued": Event.QUEUED,
    "sent": Event.SENT,
    "rejected": Event.REJECTED,
    "failed": Event.FAILED,
    "bounced": Event.BOUNCED,
    "deferred": Event.DEFERRED,
    "delivered": Event.DELIVERED,
    "autoresponded": Event.DELIVERED,
    "opened": Event.OPENED,
    "clicked": Event.CLICKED,
    "complained": Event.COMPLAINED,
    "unsubscribed": Event.UNSUBSCRIBED,
    "subscribed": Event.UNKNOWN,
    "unknown": Event.UNKNOWN,
}


class EmailChannel:
    """Sends OutgoingMessages through Django's mail API.

    `backend` is a dotted EMAIL_BACKEND path (default: the setting) and `backend_options`
    its keyword arguments. With `concurrency` > 1 messages are sent from that many threads,
    each with a connection of its own: an ESP's API answers each message in tens of
    milliseconds, which one connection would otherwise wait for one message at a time. The
    threads and their connections (kept-alive HTTP sessions) serve every call of
    send_messages until close(), so a send task's slices do not open new ones each time.
    """

    def __init__(self, *, backend: str | None = None, concurrency: int = 1, **backend_options: Any):
        self.backend = backend
        self.concurrency = max(1, concurrency)
        self.backend_options = backend_options
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def __enter__(self) -> EmailChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_messages(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """One result per message, in order; only configuration errors raise."""
        if self.concurrency == 1 or len(messages) < 2:
            return self._send_batch(messages)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="email-send")
        return list(self._pool.map(self._send_pooled, messages))

    def close(self) -> None:
        """Stop the sending threads and close their connections."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def _send_pooled(self, message: OutgoingMessage) -> SendResult:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection(self.backend, **self.backend_options)
            try:
                connection.open()
            except Exception as exc:
                return SendResult(message.message_id, error=_error(exc, None))  # re-raises a non-sending failure
            _environment_once(connection)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return self._send_one(connection, message)

    def _send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        connection = get_connection(self.backend, **self.backend_options)
        try:
            opened = connection.open()
        except Exception as exc:
            error = _error(exc, None)  # re-raises what is not a sending failure
            return [SendResult(m.message_id, error=error) for m in messages]
        try:
            return [self._send_one(connection, message) for message in messages]
        finally:
            if opened:
                connection.close()

    def _send_one(self, connection: Any, message: OutgoingMessage) -> SendResult:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=message.sender or None,
            to=[message.to],
            headers=message.headers,
            connection=connection,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        email.metadata = {**message.metadata, "message_id": str(message.message_id)}  # anymail
        try:
            sent = email.send()
        except Exception as exc:
            return SendResult(message.message_id, error=_error(exc, email))
        if not sent:
            error = ChannelError("the email backend sent nothing", False, Code.NOT_SENT)
            return SendResult(message.message_id, error=error)
        return SendResult(message.message_id, provider_id=_provider_id(email))


def _environment_once(connection: Any) -> None:
    """Read the environment's proxies and CA bundle for the ESP's API once, for the connection's
    life: requests otherwise reads every environment variable (and looks for ~/.netrc) on every
    request, a sixth of the CPU a message costs a sending thread."""
    session = getattr(connection, "session", None)
    if not isinstance(connection, AnymailRequestsBackend) or not isinstance(session, requests.Session):
        return
    found = session.merge_environment_settings(connection.api_url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify, session.cert = found["verify"], found["cert"]
    session.trust_env = False


def _provider_id(email: EmailMultiAlternatives) -> str | None:
    status = getattr(email, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    if isinstance(message_id, set):  # one id per recipient; a message has one recipient
        message_id = min(map(str, message_id), default=None)
    return None if message_id is None else str(message_id)


def _error(exc: BaseException, email: EmailMultiAlternatives | None) -> ChannelError:
    """The ChannelError a failed send means; anything that is not a sending failure (a
    misconfigured backend, a bug) is raised again."""
    description = " ".join(str(exc).split())[:500] or type(exc).__name__
    if isinstance(exc, AnymailRecipientsRefused):
        statuses = getattr(getattr(email, "anymail_status", None), "status", None) or {"rejected"}
        failure = next((SEND_STATUS_ERRORS[s] for s in ("invalid", "rejected", "failed") if s in statuses), None)
        permanent, code = failure or (True, Code.REJECTED_RECIPIENT)
        return ChannelError(description, permanent, code)
    if isinstance(exc, AnymailAPIError) and exc.status_code is not None:
        permanent, code = _http_error(exc.status_code)
        return ChannelError(description, permanent, code)
    for kind, (permanent, code) in EXCEPTION_ERRORS:
        if isinstance(exc, kind):
            return ChannelError(description, permanent, code)
    if isinstance(exc, AnymailAPIError):  # no HTTP status: an unparsable answer
        return ChannelError(description, False, Code.FAILED)
    raise exc


def _http_error(status: int) -> tuple[bool, Code]:
    if status in HTTP_STATUS_ERRORS:
        return HTTP_STATUS_ERRORS[status]
    return (False, Code.PROVIDER_UNAVAILABLE) if status >= 500 else (True, Code.FAILED)
