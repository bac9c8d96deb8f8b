"""Segmentation run admin: the run page over real runs of a small shop, the run list, Run now, the status endpoint."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from segments.models import Customer, DraftLabel, Membership, Order, Segment, SegmentationRun

from ..conftest import make_shop
from .conftest import legend_of, run_url, segment_now

PLOT_DIVS = ("plot-elbow", "plot-projection-2d", "plot-projection-3d", "plot-rfm-heatmap", "plot-sankey")


# --- the run page ---------------------------------------------------------------------------------


def test_the_run_page_draws_every_plot_and_names_the_chosen_k(admin_client, segmented):
    page = admin_client.get(run_url(segmented))

    assert page.status_code == 200
    html = page.content.decode()
    for div in PLOT_DIVS:
        assert f'id="{div}"' in html, div
    assert f"{segmented.k} segments" in html
    assert escape(segmented.k_reason) in html
    assert "/static/plotly/plotly.min.js" in html
    assert 'id="sizes"' in html  # the sizes: an HTML chart, no figure
    # Metrics come with words a shop owner can read, profiles with their descriptions and links.
    assert "how well separated the segments are" in html
    for segment in Segment.objects.filter(last_run=segmented):
        assert reverse("admin:segments_segment_change", args=[segment.pk]) in html
        assert escape(segment.name) in html
    for profile in segmented.profiles:
        assert escape(profile["description"]) in html
    assert 'id="transitions"' in html
    # Read-only: a run is a record.
    assert 'name="_save"' not in html


def test_the_run_page_draws_the_names_in_the_plot_legends(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    assert legend_of(html, "plot-projection-2d") == set(segmented.plot_data["names"].values())
    assert legend_of(html, "plot-projection-3d") == set(segmented.plot_data["names"].values())


def test_the_run_page_draws_stability_and_shows_no_warnings_for_segments_fit_to_act_on(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    assert "Stability" in legend_of(html, "plot-elbow")
    assert 'id="warnings"' not in html
    assert "Read it with the warnings above" not in html


def test_the_run_page_puts_the_warnings_first_and_never_praises_a_result_unfit_to_act_on(admin_client, db):
    make_shop(groups={"vip": 3, "lapsed": 40, "new": 2})
    Customer.objects.update(attributes={"complains": 0})
    run = segment_now(k=2, feature_names=["recency_days", "frequency", "monetary", "complains"])
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error

    html = admin_client.get(run_url(run)).content.decode()

    assert 'id="warnings"' in html and "Not fit to act on as they are" in html
    dominant = next(w for w in run.warnings if w["code"] == "dominant_segment")
    left_out = next(w for w in run.warnings if w["code"] == "constant_feature_left_out")
    assert html.index(escape(dominant["message"])) < html.index(escape(left_out["message"]))
    assert html.index('id="warnings"') < html.index('id="segments"') < html.index("Quality scores")
    assert "Read it with the warnings above: they make these segments unfit to act on." in html


def test_a_queued_run_shows_a_progress_bar_that_polls_its_status_and_no_plots(admin_client, db):
    queued = SegmentationRun.objects.create(percent=40, stage="fit")

    html = admin_client.get(run_url(queued)).content.decode()

    assert '<progress max="100" value="40">' in html
    assert "Fitting the model" in html
    assert f'data-status-url="{run_url(queued, "status")}"' in html
    assert 'data-interval="1500"' in html
    assert "plot-elbow" not in html and "plotly.min.js" not in html


def test_a_failed_run_shows_its_error(admin_client, db):
    failed = SegmentationRun.objects.create(status=SegmentationRun.Status.FAILED, error="the shop is empty")

    html = admin_client.get(run_url(failed)).content.decode()

    assert "the shop is empty" in html
    assert "<progress" not in html


def test_a_shop_without_orders_gets_a_run_page_without_the_rfm_grid(admin_client, db):
    for n in range(30):
        Customer.objects.create(
            external_id=f"S{n}", attributes={"complains": n % 3, "money_spent": 10 + (n % 3) * 500 + n}
        )
    run = segment_now(feature_names=["complains", "money_spent"], k=3)
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    assert not Order.objects.exists()

    html = admin_client.get(run_url(run)).content.decode()

    assert 'id="plot-projection-2d"' in html
    assert "plot-rfm-heatmap" not in html


# --- the run list, Run now and the status endpoint ----------------------------------------------


def test_the_run_list_shows_runs_the_run_now_form_and_how_to_schedule(admin_client, segmented):
    page = admin_client.get(reverse("admin:segments_segmentationrun_changelist"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Succeeded</span>" in html
    assert f'{segmented.metrics["silhouette"]:.3f}' in html
    assert 'action="/admin/segments/segmentationrun/run-now/"' in html
    assert 'name="algorithm"' in html and 'name="k"' in html and 'name="incremental"' in html
    assert "segments.tasks.scheduled_segmentation_task" in html
    assert reverse("admin:django_celery_beat_periodictask_changelist") in html
    # Runs are started with the form, never added, edited or deleted by hand.
    assert reverse("admin:segments_segmentationrun_add") not in html


@pytest.mark.django_db(transaction=True)
def test_run_now_runs_a_segmentation_eagerly_and_lands_on_its_page(admin_client):
    make_shop()

    response = admin_client.post(
        reverse("admin:segments_segmentationrun_run_now"),
        {"algorithm": "kmeans", "k": "3", "features": ["recency_days", "frequency", "monetary"]},
    )

    run = SegmentationRun.objects.get()
    assert response.status_code == 302
    assert response.url == run_url(run)
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    assert (run.k_requested, run.k, run.triggered_by) == (3, 3, "admin")
    assert run.features == ["recency_days", "frequency", "monetary"]
    # Started from admin, it is a draft: it placed nobody and keeps its 60 labels for Make live.
    assert run.is_draft and run.go_live == SegmentationRun.GoLive.NEVER
    assert Membership.objects.count() == 0
    assert DraftLabel.objects.filter(run=run).count() == 60


@pytest.mark.django_db(transaction=True)
def test_run_now_with_make_live_straight_away_places_the_customers(admin_client):
    make_shop()

    admin_client.post(
        reverse("admin:segments_segmentationrun_run_now"),
        {"algorithm": "kmeans", "k": "3", "features": ["recency_days", "frequency", "monetary"], "make_live": "on"},
    )

    run = SegmentationRun.objects.get()
    assert run.applied and run.applied_by == "admin"
    assert Membership.objects.filter(run=run).count() == 60


@pytest.mark.django_db(transaction=True)
def test_a_run_that_fails_eagerly_lands_on_its_page_with_the_reason(admin_client):
    make_shop()

    response = admin_client.post(
        reverse("admin:segments_segmentationrun_run_now"),
        {"algorithm": "kmeans", "k": "auto", "attributes": "loyalty_points"},
        follow=True,
    )

    run = SegmentationRun.objects.get()
    assert run.status == SegmentationRun.Status.FAILED
    assert "loyalty_points" in run.error
    assert response.redirect_chain == [(run_url(run), 302)]
    html = response.content.decode()
    assert f"Run {run.pk} failed" in html
    assert escape(run.error) in html


def test_run_now_refuses_a_bad_k_without_creating_a_run(admin_client, db):
    response = admin_client.post(reverse("admin:segments_segmentationrun_run_now"), {"algorithm": "kmeans", "k": "1"})

    assert response.status_code == 302
    assert response.url == reverse("admin:segments_segmentationrun_changelist")
    assert not SegmentationRun.objects.exists()
    followed = admin_client.get(response.url).content.decode()
    assert "The run was not started" in followed


@pytest.mark.parametrize(
    "data, message",
    [
        ({"k": "99999"}, "Number of segments: Enter &#x27;auto&#x27; or a whole number from 2 to 50."),
        ({"k": "51"}, "Number of segments: Enter &#x27;auto&#x27; or a whole number from 2 to 50."),
        ({"k": "auto", "attributes": "complains a'b"}, "a feature or attribute name may hold only letters"),
    ],
)
def test_run_now_names_what_it_refuses_and_creates_no_run(admin_client, db, data, message):
    response = admin_client.post(reverse("admin:segments_segmentationrun_run_now"), {"algorithm": "kmeans", **data})

    assert response.status_code == 302
    assert not SegmentationRun.objects.exists()
    followed = admin_client.get(response.url).content.decode()
    assert "The run was not started" in followed and message in followed


def test_run_now_accepts_only_post(admin_client, db):
    assert admin_client.get(reverse("admin:segments_segmentationrun_run_now")).status_code == 405


def test_the_status_endpoint_reports_progress_as_json(admin_client, db):
    running = SegmentationRun.objects.create(
        status=SegmentationRun.Status.RUNNING, percent=55, stage="fit"
    )

    response = admin_client.get(run_url(running, "status"))

    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "id": running.pk,
        "status": "running",
        "status_display": "Running",
        "percent": 55,
        "stage": "fit",
        "stage_label": "Fitting the model",
        "error": "",
        "done": False,
    }


@pytest.mark.parametrize("object_id", ["abc", "1.5", "99999999999999999999"])
def test_the_status_endpoint_answers_404_for_an_id_that_names_no_run(admin_client, db, object_id):
    SegmentationRun.objects.create()

    response = admin_client.get(f"/admin/segments/segmentationrun/{object_id}/status/")

    assert response.status_code == 404


def test_the_status_endpoint_and_run_now_are_for_staff_only(client, db, django_user_model):
    run = SegmentationRun.objects.create()
    customer = django_user_model.objects.create_user("shopper", password="not-used")
    client.force_login(customer)

    status = client.get(run_url(run, "status"))
    started = client.post(reverse("admin:segments_segmentationrun_run_now"), {"algorithm": "kmeans", "k": "auto"})

    for response in (status, started):
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    assert SegmentationRun.objects.count() == 1


def test_staff_without_permission_to_start_runs_cannot_start_one(client, db, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="not-used", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_segmentationrun"))
    client.force_login(viewer)

    listing = client.get(reverse("admin:segments_segmentationrun_changelist")).content.decode()
    response = client.post(reverse("admin:segments_segmentationrun_run_now"), {"algorithm": "kmeans", "k": "auto"})

    assert "run-now-form" not in listing
    assert response.status_code == 403
    assert not SegmentationRun.objects.exists()


# --- permissions: the run pages need the view permission of runs, Run now the add permission ------


def test_the_run_pages_are_refused_to_staff_without_the_view_permission_of_runs(staff_with, db):
    run = SegmentationRun.objects.create(status=SegmentationRun.Status.RUNNING, percent=55, stage="fit")
    staff = staff_with("view_segment", "view_customer")

    for url in (run_url(run), run_url(run, "status"), reverse("admin:segments_segmentationrun_changelist")):
        assert staff.get(url).status_code == 403, url


def test_the_run_pages_open_for_staff_with_the_view_permission_of_runs(staff_with, db):
    run = SegmentationRun.objects.create(status=SegmentationRun.Status.RUNNING, percent=55, stage="fit")
    staff = staff_with("view_segmentationrun")

    for url in (run_url(run), reverse("admin:segments_segmentationrun_changelist")):
        assert staff.get(url).status_code == 200, url
    assert staff.get(run_url(run, "status")).json()["percent"] == 55


def test_staff_with_the_add_permission_of_runs_can_start_one(staff_with, db):
    staff = staff_with("view_segmentationrun", "add_segmentationrun")

    listing = staff.get(reverse("admin:segments_segmentationrun_changelist")).content.decode()
    response = staff.post(reverse("admin:segments_segmentationrun_run_now"), {"algorithm": "kmeans", "k": "3"})

    run = SegmentationRun.objects.get()
    assert "run-now-form" in listing
    assert response.status_code == 302 and response.url == run_url(run)
    assert (run.k_requested, run.triggered_by) == (3, "admin")


# --- a run whose worker died: shown, and failed by hand -------------------------------------------


def stuck_run(minutes_silent=7):
    silent_since = timezone.now() - datetime.timedelta(minutes=minutes_silent, seconds=5)
    return SegmentationRun.objects.create(
        status=SegmentationRun.Status.RUNNING, started_at=silent_since, heartbeat_at=silent_since, percent=30
    )


def staff_member(django_user_model, *codenames):
    user = django_user_model.objects.create_user("operator", password="not-used", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_a_run_whose_worker_is_silent_says_so_and_offers_to_fail_it(admin_client, settings):
    settings.JOB_STALE_AFTER_SECONDS = 120
    run = stuck_run()

    html = admin_client.get(run_url(run)).content.decode()

    assert "no sign of life for 7 minutes" in html
    assert f'action="{run_url(run, "fail")}"' in html and "Mark this run failed" in html


def test_a_run_that_still_beats_shows_no_warning(admin_client, settings):
    settings.JOB_STALE_AFTER_SECONDS = 120
    run = SegmentationRun.objects.create(status="running", started_at=timezone.now(), heartbeat_at=timezone.now())

    html = admin_client.get(run_url(run)).content.decode()

    assert "no sign of life" not in html
    assert "Mark this run failed" in html  # an operator may still end it


def test_a_stuck_run_failed_by_hand_frees_the_way_for_new_runs(admin_client):
    run = stuck_run()

    response = admin_client.post(run_url(run, "fail"))

    run.refresh_from_db()
    assert response.status_code == 302 and response.url == run_url(run)
    assert run.status == "failed" and run.error.startswith("failed by hand by admin at ")
    assert not SegmentationRun.objects.filter(status="running").exists()
    page = admin_client.get(response.url).content.decode()
    assert f"Run {run.pk} is marked failed" in page
    assert "Mark this run failed" not in page


def test_failing_a_finished_run_by_hand_changes_nothing(admin_client):
    done = SegmentationRun.objects.create(status="succeeded")

    response = admin_client.post(run_url(done, "fail"), follow=True)

    done.refresh_from_db()
    assert done.status == "succeeded" and done.error == ""
    assert f"Run {done.pk} had already ended" in response.content.decode()


def test_only_staff_who_may_change_runs_can_fail_one(client, db, django_user_model):
    run = stuck_run()
    viewer = staff_member(django_user_model, "view_segmentationrun")
    client.force_login(viewer)

    page = client.get(run_url(run)).content.decode()
    refused = client.post(run_url(run, "fail"))
    viewer.user_permissions.add(Permission.objects.get(codename="change_segmentationrun"))
    allowed = client.post(run_url(run, "fail"))

    assert "Mark this run failed" not in page and "no sign of life for 7 minutes" in page
    assert refused.status_code == 403
    assert allowed.status_code == 302
    run.refresh_from_db()
    assert run.status == "failed" and "failed by hand by operator" in run.error


def test_failing_a_run_by_hand_takes_a_post(admin_client):
    run = stuck_run()

    assert admin_client.get(run_url(run, "fail")).status_code == 405
    run.refresh_from_db()
    assert run.status == "running"
