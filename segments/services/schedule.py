"""The re-segmentation schedule in plain words: off, nightly at a time, or weekly on a day.

It is the django-celery-beat entry made by migration 0002 ("Nightly re-segmentation"); a
marketer sets it from the admin's home page instead of editing crontab fields and JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, PeriodicTask

TASK_NAME = "Nightly re-segmentation"
TASK = "segments.tasks.scheduled_segmentation_task"
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# crontab's day_of_week: 0 is Sunday.
_CRON_DAY = {name: str((i + 1) % 7) for i, name in enumerate(DAYS)}


@dataclass(frozen=True)
class Schedule:
    kind: str  # "off", "nightly" or "weekly"
    at: dt.time | None = None
    day: str | None = None  # for weekly

    def __str__(self) -> str:
        if self.kind == "off":
            return "off"
        when = f"{self.at:%H:%M}"
        return f"nightly at {when}" if self.kind == "nightly" else f"weekly on {self.day} at {when}"


def resegmentation_schedule() -> Schedule:
    """The schedule as it stands, read back from the beat entry."""
    task = PeriodicTask.objects.filter(name=TASK_NAME).select_related("crontab").first()
    if task is None or not task.enabled or task.crontab is None:
        return Schedule("off")
    crontab = task.crontab
    try:
        at = dt.time(int(crontab.hour), int(crontab.minute))
    except ValueError:
        return Schedule("off")  # a hand-written crontab this page does not speak
    days = {value: name for name, value in _CRON_DAY.items()}
    if crontab.day_of_week in days:
        return Schedule("weekly", at, days[crontab.day_of_week])
    return Schedule("nightly", at)


def resegmentation_schedule_set(*, kind: str, at: dt.time | None = None, day: str | None = None) -> Schedule:
    """Switch the scheduled full re-segmentation off, or on nightly / weekly at `at`."""
    if kind not in ("off", "nightly", "weekly"):
        raise ValueError(f"a schedule is off, nightly or weekly, not {kind!r}")
    task, _ = PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "kwargs": json.dumps({"algorithm": "kmeans"}), "enabled": False,
                                  "interval": None, "crontab": _crontab(dt.time(3, 0), "*")},
    )
    if kind == "off":
        task.enabled = False
        task.save(update_fields=["enabled"])
        return Schedule("off")
    if at is None or (kind == "weekly" and day not in _CRON_DAY):
        raise ValueError("a nightly schedule needs a time, a weekly one a time and a day")
    task.crontab = _crontab(at, _CRON_DAY[day] if kind == "weekly" else "*")
    task.enabled = True
    task.save()
    return resegmentation_schedule()


def _crontab(at: dt.time, day_of_week: str) -> CrontabSchedule:
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(at.minute), hour=str(at.hour), day_of_week=day_of_week, day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    return crontab
