"""The writes of the campaigns app: loading campaign definitions, planning and launching runs,
sending the outbox, schedules. Entry points (tasks, commands, admin) call these."""

from .definitions import DefinitionError, campaign_load
from .outbox import messages_due, messages_mark_unknown, messages_unfinished
from .previews import Preview, Recipient, preview_recipient, template_preview, template_render, template_send_test
from .runs import (
    STAGES,
    CampaignError,
    campaign_plan,
    campaign_run_create,
    campaign_run_execute,
    campaign_run_settle,
    plan_summary,
)
from .schedules import campaign_pause, campaign_resume, campaign_schedule_sync
from .sending import BatchOutcome, run_batch_send

__all__ = [
    "STAGES",
    "BatchOutcome",
    "Preview",
    "Recipient",
    "CampaignError",
    "DefinitionError",
    "campaign_load",
    "campaign_pause",
    "campaign_plan",
    "campaign_resume",
    "campaign_run_create",
    "campaign_run_execute",
    "campaign_run_settle",
    "campaign_schedule_sync",
    "messages_due",
    "messages_mark_unknown",
    "messages_unfinished",
    "plan_summary",
    "preview_recipient",
    "run_batch_send",
    "template_preview",
    "template_render",
    "template_send_test",
]
