"""What every channel shares: the message that goes out, the result that comes back, how a
send fails, and the vocabulary of delivery events providers' statuses are mapped to.

A channel sends a batch and returns one SendResult per message, in order; it does not raise
for a message that failed. A failure is a ChannelError: `permanent` means sending the same
message again will not succeed (an invalid number, a hard bounce, an opt-out); otherwise it
is worth retrying later (rate limits, provider outages, network errors, and configuration
errors such as bad credentials, which the operator can fix). `code` says which, from a small
vocabulary; `suppresses_recipient` tells the codes that mean the address itself is bad or
has opted out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from campaigns.rendering import RenderedEmail, RenderedSms


class Code(StrEnum):
    """Why a send failed, across providers."""

    INVALID_RECIPIENT = "invalid_recipient"  # not an address or number at all
    REJECTED_RECIPIENT = "rejected_recipient"  # hard bounce, spam complaint, on a suppression list
    UNSUBSCRIBED = "unsubscribed"  # replied STOP
    NOT_MOBILE = "not_mobile"  # a landline or another number that takes no SMS
    UNREACHABLE = "unreachable"  # no route to the number, or its region is not enabled
    INVALID_MESSAGE = "invalid_message"  # the provider refused the content (too long, malformed)
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"  # 5xx
    NETWORK = "network"
    AUTH = "auth"  # credentials refused
    CONFIG = "config"  # sender not allowed, account restrictions
    NOT_SENT = "not_sent"  # the backend quietly sent nothing
    FAILED = "failed"  # anything else


# The codes after which a channel should not be tried again for this address.
SUPPRESSING_CODES = frozenset({Code.INVALID_RECIPIENT, Code.REJECTED_RECIPIENT, Code.UNSUBSCRIBED, Code.NOT_MOBILE})


class ChannelError(Exception):
    def __init__(self, message: str, permanent: bool, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code

    @property
    def suppresses_recipient(self) -> bool:
        return self.code in SUPPRESSING_CODES

    def __repr__(self) -> str:
        return f"ChannelError({self.message!r}, permanent={self.permanent}, code={self.code!r})"


@dataclass(slots=True)
class OutgoingMessage:
    """One email or SMS to one recipient. `message_id` is the outbox's id: it travels with
    the message (anymail metadata) so that webhooks can find the message again."""

    message_id: str
    to: str
    subject: str = ""
    html: str = ""
    text: str = ""
    body: str = ""  # SMS
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    sender: str = ""  # overrides the configured sender (DEFAULT_FROM_EMAIL, TWILIO_FROM_NUMBER)

    @classmethod
    def email(cls, *, message_id: str, to: str, rendered: RenderedEmail, **extra) -> OutgoingMessage:
        return cls(
            message_id=str(message_id),
            to=to,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            headers=dict(rendered.headers),
            **extra,
        )

    @classmethod
    def sms(cls, *, message_id: str, to: str, rendered: RenderedSms, **extra) -> OutgoingMessage:
        return cls(message_id=str(message_id), to=to, body=rendered.body, **extra)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one message: the provider's id for it, or the error."""

    message_id: str
    provider_id: str | None = None
    error: ChannelError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Event(StrEnum):
    """What happened to a message after it was sent, across providers (webhooks and status
    callbacks map the provider's own words to these through the tables next to each channel)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    REJECTED = "rejected"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"
