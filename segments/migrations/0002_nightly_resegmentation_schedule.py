"""A ready-made nightly re-segmentation in Periodic tasks, switched off.

Marketers turn it on (or change its time) in admin instead of writing a schedule by hand.
"""

import json

from django.conf import settings
from django.db import migrations

TASK_NAME = "Nightly re-segmentation"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "segments.tasks.scheduled_segmentation_task",
            "crontab": crontab,
            "kwargs": json.dumps({"algorithm": "kmeans"}),
            "enabled": False,
            "description": "Re-segments every customer at 03:00 with k-means and an automatic K. "
            "Tick 'Enabled' to switch it on; edit the arguments to change algorithm, k or features.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
