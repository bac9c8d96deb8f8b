from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"
    verbose_name = "Customers and segments"
