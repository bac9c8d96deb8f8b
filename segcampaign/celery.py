"""The Celery app. Workers: `celery -A segcampaign worker`; beat: `celery -A segcampaign beat`.

Configuration comes from Django settings (CELERY_* names); the beat schedule lives in the
database (django-celery-beat) so marketers schedule re-segmentation in admin.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")

app = Celery("segcampaign")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
