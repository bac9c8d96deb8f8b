"""The admin's home page: work grouped for marketers, a dashboard, the schedule in plain words."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from segments import services
from tests.segments.conftest import make_shop, run

pytestmark = pytest.mark.django_db


def test_the_home_page_groups_the_work_and_hides_what_a_marketer_never_needs(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    for group in ("Customers and orders", "Segments", "Campaigns", "Administration"):
        assert f">{group}</a>" in html
    for hidden in ("Groups", "Crontabs", "Clocked", "Intervals", "Solar events"):
        assert f">{hidden}</a>" not in html
    assert ">Customers</a>" in html and ">Periodic tasks</a>" in html


def test_the_dashboard_shows_the_latest_run_and_live_segments(admin_client):
    make_shop()
    latest = run(k=3)

    html = admin_client.get(reverse("admin:index")).content.decode()

    assert f"Run {latest.pk}</a>: 3 segments of 60 customers" in html
    assert html.count("/admin/segments/segment/") >= 3


def test_the_schedule_is_set_in_plain_words(admin_client):
    response = admin_client.post(reverse("admin:resegmentation_schedule"), {"kind": "weekly", "day": "Monday",
                                                                          "at": "04:30"})

    assert response.status_code == 302
    assert str(services.resegmentation_schedule()) == "weekly on Monday at 04:30"
    task = PeriodicTask.objects.get(name="Nightly re-segmentation")
    assert task.enabled and (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("4", "30", "1")
    admin_client.post(reverse("admin:resegmentation_schedule"), {"kind": "off"})
    assert str(services.resegmentation_schedule()) == "off" and not PeriodicTask.objects.get(pk=task.pk).enabled
    assert "Automatic re-segmentation is <strong>off</strong>" in admin_client.get(reverse("admin:index")).content.decode()


def test_a_weekly_schedule_needs_its_day_and_nothing_changes_without_it(admin_client):
    admin_client.post(reverse("admin:resegmentation_schedule"), {"kind": "weekly", "at": "04:30"})

    assert str(services.resegmentation_schedule()) == "off"


def test_only_users_who_may_change_schedules_may_set_it(client):
    user = User.objects.create_user("marketer", password="x", is_staff=True)
    client.force_login(user)

    assert client.post(reverse("admin:resegmentation_schedule"), {"kind": "nightly", "at": "03:00"}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="change_periodictask"))
    assert client.post(reverse("admin:resegmentation_schedule"), {"kind": "nightly", "at": "03:00"}).status_code == 302


@pytest.mark.parametrize("minutes_ago, says", [(1, "Celery beat is running"), (30, "Celery beat has not run since")])
def test_the_dashboard_says_whether_beat_is_alive(admin_client, minutes_ago, says):
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.update_or_create(
        name="fail-stale-work",
        defaults={"task": "segments.tasks.stale_work_fail_task", "interval": every_minute,
                  "last_run_at": timezone.now() - dt.timedelta(minutes=minutes_ago)},
    )

    assert says in admin_client.get(reverse("admin:index")).content.decode()
