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
    return f"{settings.SITE_URL}/t/{_TRACK.sign(f'{message_id}.{index}')}/"


def unsubscribe_message_id(token: str) -> int:
    """The message an unsubscribe token names; signing.BadSignature when it was not ours."""
    return int(_UNSUBSCRIBE.unsign(token))


def tracked_link(token: str) -> tuple[int, int]:
    """(message id, link index) of a tracked-link token; signing.BadSignature when not ours."""
    message_id, index = _TRACK.unsign(token).split(".")
    return int(message_id), int(index)


def sms_status_callback_url() -> str:
    return f"{settings.SITE_URL}/sms/twilio/status/"
