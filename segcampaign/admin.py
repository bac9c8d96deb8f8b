"""The project's admin site: the work a marketer does, grouped on its home page, with a dashboard.

The home page groups the models by the work done with them (customers and orders, segments,
campaigns) instead of by Django app, hides what a marketer never needs (user groups, the
schedule types of Celery beat), and opens with a short dashboard: the latest segmentation, the
live segments, the re-segmentation schedule in plain words (set from there), and whether Celery
beat, which runs everything scheduled, has been heard from recently.
"""

from __future__ import annotations

import datetime as dt
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django_celery_beat.models import PeriodicTask

from segments import selectors, services
from segments.models import ImportJob

# (title, [(app label, model name), ...]) in the order of the work.
GROUPS = (
    ("Customers and orders", (("segments", "customer"), ("segments", "order"), ("segments", "importjob"))),
    ("Segments", (("segments", "segment"), ("segments", "segmentationrun"))),
    ("Campaigns", (("campaigns", "campaign"), ("campaigns", "messagetemplate"), ("campaigns", "campaignrun"),
                   ("campaigns", "message"), ("campaigns", "suppression"))),
    ("Administration", (("auth", "user"), ("django_celery_beat", "periodictask"))),
)
# Beat's own housekeeping entry runs every minute: its last run says whether beat is alive.
BEAT_PROBE = "fail-stale-work"
BEAT_SILENT_AFTER = dt.timedelta(minutes=5)


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(
        label="Re-segment automatically",
        choices=[("off", "Off"), ("nightly", "Every night"), ("weekly", "Once a week")],
        widget=forms.RadioSelect,
    )
    day = forms.ChoiceField(label="On", choices=[(d, d) for d in services.DAYS], required=False)
    at = forms.TimeField(label="At", initial=dt.time(3, 0), required=False,
                         widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") in ("nightly", "weekly") and not cleaned.get("at"):
            self.add_error("at", "Give the time of day.")
        if cleaned.get("kind") == "weekly" and not cleaned.get("day"):
            self.add_error("day", "Choose the day.")
        return cleaned


class AdminSite(admin.AdminSite):
    site_header = "segcampaign"
    site_title = "segcampaign"
    index_title = "Your shop"

    def get_urls(self):
        # The CSV upload pages belong to the import admin, whose own URLs all sit under its
        # model's address (/admin/segments/importjob/); they keep /admin/segments/import/.
        import_admin = self.get_model_admin(ImportJob)
        return [
            path("segments/import/", include(import_admin.upload_urls)),
            path("schedule/", self.admin_view(self.schedule_view), name="resegmentation_schedule"),
            *super().get_urls(),
        ]

    def admin_view(self, view, cacheable=False):
        """Every admin page, refusing a query string with a NUL character.

        List filters pass their values to the database, and PostgreSQL refuses NUL in text
        with an error (a 500 page); no stored value can hold one, so the request is wrong.
        """
        checked = super().admin_view(view, cacheable)

        @wraps(checked)
        def inner(request, *args, **kwargs):
            if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
                return HttpResponseBadRequest("A parameter of this address holds a NUL character (%00).")
            return checked(request, *args, **kwargs)

        return inner

    def get_app_list(self, request, app_label=None):
        """The models grouped by the work done with them (on the home page); an app's own page
        (app_label given) keeps Django's list."""
        app_list = super().get_app_list(request, app_label)
        if app_label is not None:
            return app_list
        models = {(app["app_label"], model["object_name"].lower()): model for app in app_list for model in app["models"]}
        grouped = []
        for title, members in GROUPS:
            found = [models[member] for member in members if member in models]
            if found:
                # The group's heading leads to its first list.
                grouped.append({"name": title, "app_label": slugify(title), "app_url": found[0]["admin_url"],
                                "has_module_perms": True, "models": found})
        return grouped

    def index(self, request, extra_context=None):
        return super().index(request, {**dashboard(request), **(extra_context or {})})

    @staticmethod
    def schedule_view(request):
        return _schedule(request)


def dashboard(request) -> dict:
    """The home page's dashboard, for what the user may see."""
    context = {"show_dashboard": True}
    if request.user.has_perm("segments.view_segmentationrun"):
        context["latest_run"] = selectors.latest_successful_run()
        context["last_run"] = selectors.latest_run()
    if request.user.has_perm("segments.view_segment"):
        context["live_segments"] = list(selectors.live_segments().order_by("-size")[:8])
    context["schedule"] = services.resegmentation_schedule()
    context["schedule_form"] = ScheduleForm(initial={
        "kind": context["schedule"].kind, "at": context["schedule"].at or dt.time(3, 0), "day": context["schedule"].day,
    })
    context["may_schedule"] = request.user.has_perm("django_celery_beat.change_periodictask")
    probe = PeriodicTask.objects.filter(name=BEAT_PROBE).values_list("last_run_at", flat=True).first()
    context["beat_last_seen"] = probe
    context["beat_alive"] = probe is not None and timezone.now() - probe < BEAT_SILENT_AFTER
    return context


@require_POST
def _schedule(request):
    if not request.user.has_perm("django_celery_beat.change_periodictask"):
        raise PermissionDenied
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"The schedule was not changed. {problems}")
    else:
        data = form.cleaned_data
        schedule = services.resegmentation_schedule_set(kind=data["kind"], at=data["at"], day=data["day"] or None)
        messages.success(request, f"Re-segmentation is now {schedule}.")
    return redirect(reverse("admin:index"))
