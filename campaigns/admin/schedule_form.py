"""A campaign's schedule in plain words: not at all, once at a time, or repeatedly ("every
Monday at 09:00"), written to the campaign's schedule_at or schedule_cron.

The campaign keeps a cron expression (minute hour day-of-month month day-of-week, in the shop's
time zone): the everyday shapes are offered as choices and written as cron; any other cron
expression can still be typed and is kept as it is.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.validators import crontab_validator

NEVER, ONCE, REPEAT = "never", "once", "repeat"
WHEN_CHOICES = [
    (NEVER, "Not scheduled: I launch it myself"),
    (ONCE, "Once, at a date and time"),
    (REPEAT, "Again and again"),
]
DAILY, WEEKDAYS, WEEKLY, MONTHLY, CUSTOM = "daily", "weekdays", "weekly", "monthly", "custom"
REPEAT_CHOICES = [
    (DAILY, "every day"),
    (WEEKDAYS, "every weekday (Monday to Friday)"),
    (WEEKLY, "every week, on the day below"),
    (MONTHLY, "every month, on the day of the month below"),
    (CUSTOM, "by a cron expression (advanced)"),
]
# Cron numbers the days from Sunday = 0.
WEEKDAY_CHOICES = [("1", "Monday"), ("2", "Tuesday"), ("3", "Wednesday"), ("4", "Thursday"), ("5", "Friday"),
                   ("6", "Saturday"), ("0", "Sunday")]
WEEKDAY_NAMES = dict(WEEKDAY_CHOICES) | {"7": "Sunday"}
_PLAIN = re.compile(r"(\d{1,2}) (\d{1,2}) (\*|\d{1,2}) \* (\*|1-5|[0-7])")


def cron_for(repeat: str, at: dt.time, *, weekday: str = "1", day: int = 1) -> str:
    """The cron expression of an everyday shape."""
    day_of_month, day_of_week = {
        DAILY: ("*", "*"), WEEKDAYS: ("*", "1-5"), WEEKLY: ("*", weekday), MONTHLY: (str(day), "*"),
    }[repeat]
    return f"{at.minute} {at.hour} {day_of_month} * {day_of_week}"


def shape_of(cron: str) -> dict:
    """The everyday shape a cron expression has (repeat, time, weekday, day), or CUSTOM."""
    match = _PLAIN.fullmatch(" ".join(cron.split()))
    if not match:
        return {"repeat": CUSTOM}
    minute, hour, day_of_month, day_of_week = match.groups()
    if int(minute) > 59 or int(hour) > 23:
        return {"repeat": CUSTOM}
    shape = {"time": dt.time(int(hour), int(minute))}
    if day_of_month == "*" and day_of_week == "*":
        return {**shape, "repeat": DAILY}
    if day_of_month == "*" and day_of_week == "1-5":
        return {**shape, "repeat": WEEKDAYS}
    if day_of_month == "*" and day_of_week in WEEKDAY_NAMES:
        return {**shape, "repeat": WEEKLY, "weekday": "0" if day_of_week == "7" else day_of_week}
    if day_of_week == "*" and 1 <= int(day_of_month) <= 31:
        return {**shape, "repeat": MONTHLY, "day": int(day_of_month)}
    return {"repeat": CUSTOM}


def cron_in_words(cron: str) -> str:
    shape = shape_of(cron)
    if shape["repeat"] == CUSTOM:
        return f"by the cron expression {cron!r} (minute hour day-of-month month day-of-week)"
    at = shape["time"].strftime("%H:%M")
    return {
        DAILY: f"every day at {at}",
        WEEKDAYS: f"every weekday (Monday to Friday) at {at}",
        WEEKLY: f"every {WEEKDAY_NAMES.get(shape.get('weekday'), '')} at {at}",
        MONTHLY: f"on day {shape.get('day')} of every month at {at}",
    }[shape["repeat"]]


def schedule_in_words(*, schedule_at: dt.datetime | None, schedule_cron: str) -> str:
    if schedule_cron:
        return cron_in_words(schedule_cron)
    if schedule_at:
        return f"once, on {timezone.localtime(schedule_at):%d %B %Y at %H:%M}"
    return "not scheduled"


class ScheduleFields(forms.Form):
    """The schedule's form fields, mixed into the campaign's ModelForm (which has schedule_at
    and schedule_cron)."""

    when = forms.ChoiceField(label="Run it", choices=WHEN_CHOICES, widget=forms.RadioSelect, initial=NEVER)
    repeat = forms.ChoiceField(label="How often", choices=REPEAT_CHOICES, required=False, initial=WEEKLY)
    repeat_time = forms.TimeField(label="At", required=False, widget=widgets.AdminTimeWidget(format="%H:%M"),
                                  help_text="The time of day, in the shop's time zone (HH:MM).")
    repeat_weekday = forms.ChoiceField(label="On", choices=WEEKDAY_CHOICES, required=False, initial="1",
                                       help_text="For 'every week'.")
    repeat_day = forms.IntegerField(label="On day", min_value=1, max_value=31, required=False, initial=1,
                                    help_text="For 'every month'. Months without that day are skipped: 1 to 28 "
                                    "runs every month.")

    def schedule_initial(self, instance) -> dict:
        if instance.schedule_cron:
            shape = shape_of(instance.schedule_cron)
            return {"when": REPEAT, "repeat": shape["repeat"], "repeat_time": shape.get("time"),
                    "repeat_weekday": shape.get("weekday", "1"), "repeat_day": shape.get("day", 1)}
        return {"when": ONCE if instance.schedule_at else NEVER}

    def clean_schedule(self, cleaned: dict, *, at_changed: bool) -> None:
        """Set schedule_at and schedule_cron from the choices, or add the errors."""
        when = cleaned.get("when")
        if when == NEVER:
            cleaned["schedule_at"], cleaned["schedule_cron"] = None, ""
        elif when == ONCE:
            cleaned["schedule_cron"] = ""
            at = cleaned.get("schedule_at")
            if at is None:
                if "schedule_at" not in self.errors:
                    self.add_error("schedule_at", "Choose the date and time it runs.")
            elif at_changed and at <= timezone.now():
                self.add_error("schedule_at", "This time has passed: choose one in the future.")
        elif when == REPEAT:
            cleaned["schedule_at"] = None
            repeat = cleaned.get("repeat")
            if repeat == CUSTOM:
                cron = " ".join((cleaned.get("schedule_cron") or "").split())
                try:
                    if len(cron.split()) != 5:
                        raise ValidationError("give five fields: minute hour day-of-month month day-of-week")
                    crontab_validator(cron)
                except ValidationError as exc:
                    self.add_error("schedule_cron", f"Not a cron expression: {' '.join(exc.messages)}.")
                cleaned["schedule_cron"] = cron
            elif not repeat:
                self.add_error("repeat", "Choose how often it runs.")
            elif cleaned.get("repeat_time") is None:
                if "repeat_time" not in self.errors:
                    self.add_error("repeat_time", "Choose the time of day it runs.")
            else:
                cleaned["schedule_cron"] = cron_for(
                    repeat, cleaned["repeat_time"], weekday=cleaned.get("repeat_weekday") or "1",
                    day=cleaned.get("repeat_day") or 1,
                )
