"""The segmentation pages in admin, and the plotly figures they draw.

Figures are checked as plotly objects, without a database; pages are rendered for a logged-in
superuser over real segmentation runs of a small shop (tests/segments/conftest.py).
"""

import json
import re

import plotly.graph_objects as go
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from segments import plots
from segments.models import Customer, Membership, Order, Segment, SegmentationRun

from .conftest import make_shop

CANDIDATES = [
    {"k": 2, "inertia": 90.0, "silhouette": 0.51},
    {"k": 3, "inertia": 30.0, "silhouette": 0.74},
    {"k": 4, "inertia": 25.0, "silhouette": 0.55},
    {"k": 5, "inertia": 21.0, "silhouette": None},
]
PROJECTION = {
    "x": [0.1, 0.2, -1.0, -1.1, 2.0],
    "y": [0.0, 0.1, 1.0, 1.2, -2.0],
    "z": [0.3, 0.2, 0.1, 0.0, -0.1],
    "segments": ["champions", "champions", "lost", "lost", "new"],
    "explained_variance": [0.7, 0.2, 0.1],
}
NAMES = {"champions": "Champions", "lost": "Lost", "new": "New"}
PLOT_DIVS = ("plot-elbow", "plot-projection-2d", "plot-projection-3d", "plot-sizes", "plot-rfm-heatmap", "plot-sankey")


# --- Figures (no database) ----------------------------------------------------------------------


def test_the_elbow_marks_the_chosen_k_on_the_inertia_curve():
    figure = plots.elbow_figure(CANDIDATES, chosen_k=3)

    inertia, silhouette, chosen = figure.data
    assert list(inertia.x) == [2, 3, 4, 5] and list(inertia.y) == [90.0, 30.0, 25.0, 21.0]
    assert list(silhouette.y) == [0.51, 0.74, 0.55, None]
    assert chosen.name == "chosen K = 3"
    assert list(chosen.x) == [3] and list(chosen.y) == [30.0]
    assert silhouette.yaxis == "y2"


def test_the_elbow_marks_nothing_when_k_was_asked_for_outside_the_candidates():
    figure = plots.elbow_figure(CANDIDATES, chosen_k=7)

    assert [trace.name for trace in figure.data] == ["inertia (elbow)", "silhouette"]


def test_the_projection_draws_one_trace_per_segment_named_after_it():
    flat = plots.projection_figure(PROJECTION, NAMES, dimensions=2)
    solid = plots.projection_figure(PROJECTION, NAMES, dimensions=3)

    assert [trace.name for trace in flat.data] == ["Champions", "Lost", "New"]
    assert all(isinstance(trace, go.Scatter) for trace in flat.data)
    assert list(flat.data[1].x) == [-1.0, -1.1] and list(flat.data[1].y) == [1.0, 1.2]
    assert all(isinstance(trace, go.Scatter3d) for trace in solid.data)
    assert list(solid.data[2].z) == [-0.1]
    assert flat.layout.xaxis.title.text == "PC1 (70% of variance)"


def test_a_segment_keeps_its_colour_across_figures():
    transitions = {"(new)": {"champions": 2, "lost": 2, "new": 1}}
    scatter = plots.projection_figure(PROJECTION, NAMES, dimensions=2)
    sankey = plots.sankey_figure(transitions, NAMES)

    scatter_colours = {trace.name: trace.marker.color for trace in scatter.data}
    node_colours = dict(zip(sankey.data[0].node.label, sankey.data[0].node.color))
    assert node_colours["Champions"] == scatter_colours["Champions"]
    assert node_colours["Lost"] == scatter_colours["Lost"]
    assert node_colours[plots.NEW_CUSTOMERS_LABEL] == plots.NEW_COLOUR


def test_the_sankey_has_a_node_per_segment_on_each_side_and_a_link_per_move():
    transitions = {
        "champions": {"champions": 10, "lost": 2},
        "lost": {"lost": 5, "new": 0},
        "(new)": {"new": 3},
    }
    sankey = plots.sankey_figure(transitions, NAMES).data[0]

    # Left: where customers were; right: where they are now. Empty flows draw no link.
    assert list(sankey.node.label) == ["Champions", "Lost", plots.NEW_CUSTOMERS_LABEL, "Champions", "Lost", "New"]
    links = {
        (sankey.node.label[s], sankey.node.label[t] + " (now)"): v
        for s, t, v in zip(sankey.link.source, sankey.link.target, sankey.link.value)
    }
    assert links == {
        ("Champions", "Champions (now)"): 10,
        ("Champions", "Lost (now)"): 2,
        ("Lost", "Lost (now)"): 5,
        (plots.NEW_CUSTOMERS_LABEL, "New (now)"): 3,
    }


def test_the_rfm_heatmap_puts_each_cell_at_its_recency_and_frequency_scores():
    heatmap = {"r": [5, 1], "f": [4, 1], "customers": [12, 30], "mean_monetary": [980.5, 25.0]}
    customers, spend = plots.rfm_heatmap_figure(heatmap).data

    assert customers.z[4][3] == 12 and spend.z[4][3] == 980.5
    assert customers.z[0][0] == 30 and spend.z[0][0] == 25.0
    assert customers.z[2][2] is None
    assert len(customers.z) == 5 and all(len(row) == 5 for row in customers.z)


def test_segment_sizes_are_drawn_largest_first():
    profiles = [
        {"key": "lost", "name": "Lost", "size": 4, "share": 0.2},
        {"key": "champions", "name": "Champions", "size": 16, "share": 0.8, "revenue_share": 0.95},
    ]
    bar = plots.sizes_figure(profiles).data[0]

    assert list(bar.x) == ["Champions", "Lost"] and list(bar.y) == [16, 4]
    assert "95% of revenue" in bar.hovertext[0]


def test_a_run_without_orders_or_k_choice_gets_only_the_figures_its_data_supports():
    figures = plots.run_figures(
        k_candidates=[],
        k=3,
        profiles=[{"key": "champions", "name": "Champions", "size": 2}],
        plot_data={"projection": {**PROJECTION, "z": []}, "names": NAMES},
        transitions={"champions": {"champions": 0}},
    )

    assert set(figures) == {"sizes", "projection_2d"}


def test_a_figure_fragment_leaves_loading_plotly_js_to_the_page():
    html = plots.to_div(plots.elbow_figure(CANDIDATES, chosen_k=3), div_id="plot-elbow")

    assert 'id="plot-elbow"' in html
    assert "Plotly.newPlot" in html
    assert "plotly.js v" not in html and "<script src=" not in html
    assert len(html) < 50_000


@pytest.mark.parametrize(
    "profile",
    [
        {"label": 0, "size": 9, "mean": {"monetary": 120.0, "frequency": 3.0}, "median": {"monetary": 100.0}},
        {"label": 0, "size": 9, "monetary": {"mean": 120.0, "median": 100.0}, "frequency": {"mean": 3.0}},
        {"label": 0, "size": 9, "monetary_mean": 120.0, "monetary_median": 100.0, "frequency_mean": 3.0},
    ],
    ids=["by-statistic", "by-feature", "flat"],
)
def test_profile_statistics_read_the_same_whatever_the_layout(profile):
    statistics, rows = plots.profile_statistics(profile)

    assert statistics == ["mean", "median"]
    assert dict(rows) == {"monetary": {"mean": 120.0, "median": 100.0}, "frequency": {"mean": 3.0}}


def test_profile_statistics_keep_new_statistics_and_skip_lists_and_flags():
    profile = {
        "label": 1,
        "mean": {"recency_days": 60.2, "monetary": 503.2},
        "percentile": {"recency_days": 31.8, "monetary": 69.2},
        "population_median": {"recency_days": 118.0, "monetary": 89.5},
        "integer_columns": ["recency_days"],
        "noise": False,
        "description": "Bought 19 days ago on median.",
    }

    statistics, rows = plots.profile_statistics(profile)

    assert statistics == ["mean", "percentile", "population_median"]
    assert dict(rows)["monetary"] == {"mean": 503.2, "percentile": 69.2, "population_median": 89.5}
    assert [feature for feature, _ in rows] == ["recency_days", "monetary"]


def test_transition_rows_put_the_largest_flows_first_and_flag_stayers():
    rows = plots.transition_rows({"lost": {"lost": 5, "new": 7}, "(new)": {"new": 1}}, NAMES)

    assert [(r["from_name"], r["to_name"], r["customers"], r["stayed"]) for r in rows] == [
        ("Lost", "New", 7, False),
        ("Lost", "Lost", 5, True),
        (plots.NEW_CUSTOMERS_LABEL, "New", 1, False),
    ]


# --- Pages ----------------------------------------------------------------------------------------


def segment_now(**kwargs):
    from segments import services

    created = services.segmentation_run_create(**kwargs)
    return services.segmentation_run_execute(run_id=created.pk)


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "not-used")
    client.force_login(user)
    return client


@pytest.fixture
def segmented(db):
    make_shop()
    run = segment_now()
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    return run


def run_url(run, view="change"):
    return reverse(f"admin:segments_segmentationrun_{view}", args=[run.pk])


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


def legend_of(html, div_id):
    """Trace names of the figure drawn into `div_id` (Plotly.newPlot(id, [traces...], layout))."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{div_id}",\s*', html)
    traces, _ = json.JSONDecoder().raw_decode(html, call.end())
    return {trace["name"] for trace in traces}


def test_the_run_page_draws_the_names_in_the_plot_legends(admin_client, segmented):
    html = admin_client.get(run_url(segmented)).content.decode()

    assert legend_of(html, "plot-projection-2d") == set(segmented.plot_data["names"].values())
    assert legend_of(html, "plot-projection-3d") == set(segmented.plot_data["names"].values())


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


def test_the_segment_list_shows_each_segment_with_its_last_run(admin_client, segmented):
    html = admin_client.get(reverse("admin:segments_segment_changelist")).content.decode()

    for segment in Segment.objects.all():
        assert escape(segment.name) in html and segment.key in html
    assert f'<a href="{run_url(segmented)}">Run {segmented.pk}</a>' in html
    assert reverse("admin:segments_segment_add") not in html


def test_the_segment_page_lists_its_current_members_with_links(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    members = Customer.objects.filter(memberships__segment=segment, memberships__ended_run__isnull=True)

    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()

    assert f"Customers in this segment now ({segment.size})" in html
    for customer in members:
        assert customer.external_id in html
        assert reverse("admin:segments_customer_change", args=[customer.pk]) in html
    assert escape(segment.profile["description"]) in html
    assert 'name="name"' in html and 'name="description"' in html
    assert 'name="key"' not in html


def test_the_segment_page_pages_members_a_hundred_at_a_time(admin_client, db):
    make_shop(groups={"vip": 130, "lapsed": 20})
    run = segment_now(k=2)
    assert run.status == SegmentationRun.Status.SUCCEEDED, run.error
    segment = Segment.objects.get(size=130)
    url = reverse("admin:segments_segment_change", args=[segment.pk])
    customer_link = re.compile(r'href="/admin/segments/customer/\d+/change/"')

    first = admin_client.get(url).content.decode()
    second = admin_client.get(url, {"members_page": 2}).content.decode()

    assert len(customer_link.findall(first)) == 100
    assert "customers 1–100 of 130" in first and "?members_page=2" in first
    assert len(customer_link.findall(second)) == 30
    assert set(customer_link.findall(first)).isdisjoint(customer_link.findall(second))


def test_renaming_a_segment_locks_its_name_through_later_runs(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    url = reverse("admin:segments_segment_change", args=[segment.pk])

    response = admin_client.post(url, {"name": "Our best friends", "description": "Send them the VIP email."})

    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.name_locked) == ("Our best friends", True)
    later = segment_now()
    assert later.status == SegmentationRun.Status.SUCCEEDED, later.error
    segment.refresh_from_db()
    assert segment.last_run == later
    assert segment.name == "Our best friends"
    assert "Our best friends" in admin_client.get(run_url(later)).content.decode()


def test_an_earlier_run_page_shows_a_segment_under_its_new_name(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()
    old_name = segment.name
    segment.name = "Our best friends"
    segment.save()

    html = admin_client.get(run_url(segmented)).content.decode()

    assert f'">Our best friends</a>' in html
    assert legend_of(html, "plot-projection-2d") == (set(segmented.plot_data["names"].values()) - {old_name}) | {
        "Our best friends"
    }


def test_saving_a_segment_without_renaming_it_leaves_the_name_unlocked(admin_client, segmented):
    segment = Segment.objects.order_by("-size").first()

    admin_client.post(
        reverse("admin:segments_segment_change", args=[segment.pk]),
        {"name": segment.name, "description": "Only a note."},
    )

    segment.refresh_from_db()
    assert (segment.description, segment.name_locked) == ("Only a note.", False)


def test_segments_and_runs_cannot_be_added_or_deleted_by_hand(admin_client, segmented):
    segment = Segment.objects.first()

    assert admin_client.get(reverse("admin:segments_segment_add")).status_code == 403
    assert admin_client.get(reverse("admin:segments_segment_delete", args=[segment.pk])).status_code == 403
    assert admin_client.get(reverse("admin:segments_segmentationrun_add")).status_code == 403
    assert admin_client.get(run_url(segmented, "delete")).status_code == 403
    assert admin_client.post(run_url(segmented), {"algorithm": "gmm"}).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


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
