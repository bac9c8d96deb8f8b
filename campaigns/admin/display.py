"""How the campaign pages show statuses, problems, rendered messages and SMS lengths.

Numbers, percentages and admin links are written the way the segments pages write them
(segments.admin.display); what is only the campaigns' lives here.
"""

from __future__ import annotations

from django.utils.html import format_html

from campaigns.models import Campaign, CampaignRun, Message
from campaigns.rendering import Problem, SmsLength
from campaigns.rendering.sms import PART_GSM7, PART_UCS2, SINGLE_GSM7, SINGLE_UCS2, describe_character

CAMPAIGN_COLOURS = {
    Campaign.Status.DRAFT: "#777",
    Campaign.Status.SCHEDULED: "#79aec8",
    Campaign.Status.RUNNING: "#e0a800",
    Campaign.Status.PAUSED: "#ba2121",
    Campaign.Status.DONE: "#2e8540",
}
RUN_COLOURS = {
    CampaignRun.Status.QUEUED: "#79aec8",
    CampaignRun.Status.RUNNING: "#e0a800",
    CampaignRun.Status.SUCCEEDED: "#2e8540",
    CampaignRun.Status.FAILED: "#ba2121",
}
MESSAGE_COLOURS = {
    Message.Status.SENT: "#2e8540",
    Message.Status.FAILED: "#ba2121",
    Message.Status.UNKNOWN: "#ba2121",
    Message.Status.HOLDOUT: "#777",
    Message.Status.CANCELLED: "#777",
}
CAMPAIGN_STATUS_HELP = {
    Campaign.Status.DRAFT: "Nothing is sent until you launch it or give it a schedule.",
    Campaign.Status.SCHEDULED: "It runs by itself at the time of its schedule.",
    Campaign.Status.RUNNING: "Its messages are being sent.",
    Campaign.Status.PAUSED: "Nothing is sent and its schedule waits until you resume it.",
    Campaign.Status.DONE: "Every message of its last run has been sent. Launch it again to send to whoever matches "
    "now.",
}


def badge(label: str, colour: str):
    return format_html(
        '<span class="segcampaign-badge" style="background:{}">{}</span>', colour, label
    )


def campaign_badge(campaign: Campaign):
    return badge(campaign.get_status_display(), CAMPAIGN_COLOURS.get(campaign.status, "#666"))


def run_badge(run: CampaignRun):
    return badge(run.get_status_display(), RUN_COLOURS.get(run.status, "#666"))


def message_badge(message: Message):
    return badge(message.get_status_display(), MESSAGE_COLOURS.get(message.status, "#79aec8"))


def problem_text(problem: Problem) -> str:
    """A template problem as it is shown under its field: "line 3: unknown variable ..."."""
    return f"line {problem.line}: {problem.message}" if problem.line else problem.message


def html_frame(html: str, *, title: str = "The email as the customer sees it"):
    """An email's HTML in a sandboxed iframe: shown as the customer sees it, and no script in it
    runs (an empty `sandbox` allows nothing: no script, no forms, no same-origin access)."""
    return format_html(
        '<iframe class="segcampaign-email" sandbox="" referrerpolicy="no-referrer" title="{}" srcdoc="{}"></iframe>',
        title,
        html,
    )


def sms_length_text(length: SmsLength) -> str:
    """ "84 characters (GSM-7): 1 SMS", and for UCS-2 the character that forces it."""
    parts = "1 SMS" if length.segments == 1 else f"{length.segments} SMS"
    text = f"{length.units:,} characters ({length.encoding}): {parts}"
    if length.first_ucs2 is not None:
        ch, position = length.first_ucs2
        text += (
            f". {describe_character(ch)} at character {position} is not in the GSM-7 alphabet, so the whole SMS "
            f"goes as UCS-2: {SINGLE_UCS2} characters per SMS instead of {SINGLE_GSM7}"
        )
    elif length.segments > 1:
        text += f" (a long SMS is sent in parts of {PART_GSM7 if length.encoding == 'GSM-7' else PART_UCS2})"
    return text
