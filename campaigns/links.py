"""Signed URLs a message carries: one-click unsubscribe (/u/...) and tracked links (/t/...).

A token carries the message's id (and a link's index), signed with SECRET_KEY so it cannot be
forged or altered, and no personal data: the message row knows the customer and the URL.
"""

from django.conf import settings
from django.core import signing

_UNSUBSCRIBE = signing.Signer(salt="campaigns.unsubscribe")
_TRACK = signing.Signer(salt="campaigns.track")


def unsubscribe_url(message_id: int) -> str:
    return f"{settings.SITE_URL}/u/{_UNSUBSCRIBE.sign(str(message_id))}/"


def tracked_url(message_id: int, index: int) -> str:
    return tracker(message_id)("", index)


def tracker(message_id: int):
    """The `track(url, index)` a render calls for each link of one message: the message is
    signed once (an HMAC per link would cost more than rendering the email), the link's number
    follows it. The number needs no signature: it only picks among that message's own links."""
    prefix = f"{settings.SITE_URL}/t/{_TRACK.sign(str(message_id))}/"
    return lambda url, index: f"{prefix}{index}/"


def unsubscribe_message_id(token: str) -> int:
    """The message an unsubscribe token names; signing.BadSignature when it was not ours."""
    return int(_UNSUBSCRIBE.unsign(token))


def tracked_message_id(token: str) -> int:
    """The message a tracked link's token names; signing.BadSignature when it was not ours."""
    return int(_TRACK.unsign(token))


def sms_status_callback_url() -> str:
    return f"{settings.SITE_URL}/sms/twilio/status/"
