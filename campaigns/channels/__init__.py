"""Channels that send messages: email (Django's mail API, so any anymail ESP) and SMS
(Twilio, console, file, locmem). Each sends a batch of OutgoingMessage and returns one
SendResult per message; a failure is a ChannelError, permanent or not.

    EmailChannel(concurrency=8).send_messages(messages) -> list[SendResult]
    get_sms_backend(status_callback=url).send_messages(messages) -> list[SendResult]

Provider statuses map to Event through ANYMAIL_EVENTS and TWILIO_STATUSES, and Twilio's
delivery error codes to ChannelErrors through TWILIO_DELIVERY_ERRORS / twilio_error().
"""

from .base import SUPPRESSING_CODES, ChannelError, Code, Event, OutgoingMessage, SendResult
from .email import ANYMAIL_EVENTS, EmailChannel
from .sms import (
    SMS_BACKENDS,
    TWILIO_DELIVERY_ERRORS,
    TWILIO_ERRORS,
    TWILIO_STATUSES,
    SmsBackend,
    get_sms_backend,
    twilio_error,
)

__all__ = [
    "ANYMAIL_EVENTS",
    "SMS_BACKENDS",
    "SUPPRESSING_CODES",
    "TWILIO_DELIVERY_ERRORS",
    "TWILIO_ERRORS",
    "TWILIO_STATUSES",
    "ChannelError",
    "Code",
    "EmailChannel",
    "Event",
    "OutgoingMessage",
    "SendResult",
    "SmsBackend",
    "get_sms_backend",
    "twilio_error",
]
