"""Channels that send messages: email (Django's mail API, so any anymail ESP). A channel
sends a batch of OutgoingMessage and returns one SendResult per message; a failure is a
ChannelError, permanent or not.

    EmailChannel(concurrency=8).send(messages) -> list[SendResult]

anymail's event types map to Event through ANYMAIL_EVENTS.
"""

from .base import SUPPRESSING_CODES, ChannelError, Code, Event, OutgoingMessage, SendResult
from .email import ANYMAIL_EVENTS, EmailChannel

__all__ = [
    "ANYMAIL_EVENTS",
    "SUPPRESSING_CODES",
    "ChannelError",
    "Code",
    "EmailChannel",
    "Event",
    "OutgoingMessage",
    "SendResult",
]
