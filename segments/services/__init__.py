"""The writes of the segments app: segmentation runs and what they maintain (order stats,
segment rows, membership history), and marking customers changed. Entry points (the Celery
tasks, the commands, admin) call these; reads go through segments.selectors."""

from .applying import draft_out_of_date, segmentation_run_make_live
from .customers import customers_mark_changed
from .errors import USER_ERRORS, RunInProgress, SegmentationError
from .membership import membership_write
from .runs import (
    DEFAULT_PARAMS,
    ENGAGEMENT_SUPPLIED,
    K_MAX,
    STAGES,
    segmentation_run_create,
    segmentation_run_execute,
    segmentation_run_not_started,
)
from .segment_store import PROFILE_CHANGED
from .schedule import DAYS, Schedule, resegmentation_schedule, resegmentation_schedule_set
from .stats import customer_stats_refresh

__all__ = [
    "DAYS",
    "Schedule",
    "resegmentation_schedule",
    "resegmentation_schedule_set",
    "DEFAULT_PARAMS",
    "ENGAGEMENT_SUPPLIED",
    "K_MAX",
    "PROFILE_CHANGED",
    "STAGES",
    "USER_ERRORS",
    "RunInProgress",
    "SegmentationError",
    "customer_stats_refresh",
    "draft_out_of_date",
    "customers_mark_changed",
    "membership_write",
    "segmentation_run_create",
    "segmentation_run_execute",
    "segmentation_run_make_live",
    "segmentation_run_not_started",
]
