"""Segmentation run admin: the run page over real runs of a small shop, the run list, Run now, the status endpoint."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from segments.models import Customer, Membership, Order, Segment, SegmentationRun

from ..conftest import make_shop
from .conftest import legend_of, run_url, segment_now

PLOT_DIVS = ("plot-elbow", "plot-projection-2d", "plot-projection-3d", "plot-sizes", "plot-rfm-heatmap", "plot-sankey")


# --- the run page ---------------------------------------------------------------------------------


def test_the_run_page_draws_every_plot_and_names_the_chosen_k(admin_client, segmented):
    page = admin_client.get(run_url(segmented))

    assert page.status_code == 200
    html = page.content.decode()
    for div in PLOT_DIVS:
        assert f'id="{div}"' in html, div
    assert f"K = {segmented.k}" in html
    assert escape(segmented.k_reason) in html
    assert "/static/plotly/plotly.min.js" in html
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

    assert "stability" in legend_of(html, "plot-elbow")
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
    assert html.index('id="warnings"') < html.index("How good are these segments?")
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
