import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from segments import features, selectors, services
from segments.models import Customer, CustomerStats, Membership, Order, Segment, SegmentationRun

from .conftest import NOW, make_shop

pytestmark = pytest.mark.django_db


def run(**kwargs):
    created = services.segmentation_run_create(**kwargs)
    return services.segmentation_run_execute(run_id=created.pk)


def current_segments():
    return dict(
        Membership.objects.filter(ended_run__isnull=True).values_list("customer__external_id", "segment__key")
    )


def test_it_segments_a_shop_into_its_behaviour_groups(shop):
    result = run()

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.k == 3
    assert [c["k"] for c in result.k_candidates] == list(range(2, 13))
    assert result.n_customers == 60
    membership = current_segments()
    assert len(membership) == 60
    # Every behaviour group lands whole in one segment of its own.
    groups = {"vip": range(1, 21), "lapsed": range(21, 41), "new": range(41, 61)}
    keys = {name: {membership[f"C{n:04d}"] for n in numbers} for name, numbers in groups.items()}
    assert all(len(k) == 1 for k in keys.values())
    assert len(set.union(*keys.values())) == 3
    assert set(result.metrics) >= {"silhouette", "davies_bouldin", "calinski_harabasz", "sizes"}
    assert {"projection", "rfm_heatmap", "names"} <= set(result.plot_data)
    assert set(result.timings) >= {"aggregating orders", "fitting k-means (k-means++)", "total"}
    assert result.model_state["columns"] == ["recency_days", "frequency", "monetary"]


def test_sql_order_stats_agree_with_the_pandas_definition(shop):
    customer = Customer.objects.get(external_id="C0001")
    Order.objects.create(
        customer=customer, external_id="R1", ordered_at=NOW, amount=Decimal("-80.00"), quantity=1, is_return=True
    )
    services.customer_stats_refresh(since=None)
    from_sql = selectors.order_stats_frame()

    orders = pd.DataFrame.from_records(
        Order.objects.values_list("customer_id", "ordered_at", "amount", "quantity", "is_return"),
        columns=["customer_id", "ordered_at", "amount", "quantity", "is_return"],
    )
    orders["amount"] = orders["amount"].astype(float)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    from_pandas = features.order_stats(orders)

    pd.testing.assert_frame_equal(
        from_sql[list(features.ORDER_STATS_COLUMNS)],
        from_pandas[list(features.ORDER_STATS_COLUMNS)],
        check_dtype=False,
        check_index_type=False,
        check_names=False,
        atol=1e-6,
    )
    assert from_sql.loc[customer.pk, "returns"] == 1


def test_a_refit_keeps_segment_keys_and_the_names_marketers_gave(shop):
    first = run(k=3)
    renamed = Segment.objects.get(key=first.profiles[0]["key"])
    renamed.name, renamed.name_locked = "Our VIPs", True
    renamed.save()
    before = current_segments()
    make_shop(groups={"vip": 3, "lapsed": 3, "new": 3}, seed=5, prefix="N")

    second = run(k=3)

    assert second.status == SegmentationRun.Status.SUCCEEDED, second.error
    assert {p["key"] for p in second.profiles} == {p["key"] for p in first.profiles}
    assert Segment.objects.get(key=renamed.key).name == "Our VIPs"
    after = current_segments()
    assert all(after[customer] == key for customer, key in before.items())
    assert second.moved == 9  # only the new customers got a membership row
    assert sum(second.transitions[services.NO_PREVIOUS_SEGMENT].values()) == 9
    assert Membership.objects.count() == 69


def test_membership_of_every_past_run_stays_answerable(shop):
    first = run(k=3)
    second = run(k=2)

    at_first = selectors.membership_at(first)["segment_id"].nunique()
    at_second = selectors.membership_at(second)["segment_id"].nunique()

    assert (at_first, at_second) == (3, 2)
    assert second.moved == 40  # lapsed and new share one segment now; the VIPs stay where they were
    assert Membership.objects.filter(ended_run=second).count() == 40  # every mover's old row was ended
    assert Segment.objects.filter(is_active=True).count() == 2
    assert Segment.objects.filter(is_active=False, retired_at__isnull=False).count() == 2


def test_a_failed_run_leaves_the_previous_membership_in_force_and_says_why(shop):
    good = run(k=3)
    before = current_segments()

    bad = run(features_=["recency_days", "shoe_size"])

    assert bad.status == SegmentationRun.Status.FAILED
    assert "shoe_size" in bad.error
    assert current_segments() == before
    assert selectors.latest_successful_run() == good


def test_two_runs_never_overlap(shop):
    holder = services.segmentation_run_create()
    SegmentationRun.objects.filter(pk=holder.pk).update(status="running", started_at=timezone.now())
    waiting = services.segmentation_run_create()

    with pytest.raises(services.RunInProgress, match=f"run {holder.pk} is still running"):
        services.segmentation_run_execute(run_id=waiting.pk)
    assert SegmentationRun.objects.get(pk=waiting.pk).status == "queued"


def test_a_run_left_running_by_a_dead_worker_does_not_block_forever(shop):
    dead = services.segmentation_run_create()
    SegmentationRun.objects.filter(pk=dead.pk).update(
        status="running", started_at=timezone.now() - dt.timedelta(hours=4)
    )

    result = run(k=3)

    assert result.status == SegmentationRun.Status.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == "failed" and "worker" in dead.error


def test_an_incremental_run_re_places_only_changed_customers(shop):
    full = run(k=3)
    lapsed = Customer.objects.get(external_id="C0021")
    vip_key = current_segments()["C0001"]
    # The lapsed customer comes back as a big, frequent buyer.
    Order.objects.bulk_create(
        Order(customer=lapsed, external_id=f"back-{i}", ordered_at=NOW - dt.timedelta(days=i * 9), amount=210, quantity=2)
        for i in range(14)
    )
    Customer.objects.filter(pk=lapsed.pk).update(updated_at=timezone.now())

    incremental = run(incremental=True)

    assert incremental.status == SegmentationRun.Status.SUCCEEDED, incremental.error
    assert incremental.base_run == full
    assert incremental.n_customers == 1
    assert incremental.moved == 1
    assert current_segments()["C0021"] == vip_key
    assert CustomerStats.objects.get(pk=lapsed.pk).frequency >= 14


def test_the_rfm_algorithm_needs_no_model(shop):
    result = run(algorithm="rfm")

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    names = {p["name"] for p in result.profiles}
    assert names <= set(services.clustering.RFM_SEGMENTS)
    assert all(key.startswith("rfm-") for key in current_segments().values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"features_": ["recency_days", "nope"]}, "nope"),
        ({"k": 500}, "too few"),
    ],
)
def test_bad_requests_fail_with_a_clear_reason(shop, kwargs, message):
    result = run(**kwargs)

    assert result.status == SegmentationRun.Status.FAILED
    assert message in result.error


def test_an_empty_shop_is_a_clear_error(db):
    result = run()

    assert result.status == SegmentationRun.Status.FAILED
    assert "empty" in result.error


def test_a_shop_of_attributes_only_clusters_on_them(db):
    Customer.objects.bulk_create(
        Customer(
            external_id=f"S{i}",
            attributes={"products_purchased": 5 + (i % 3) * 20, "complains": i % 2, "money_spent": 100 + (i % 3) * 900},
        )
        for i in range(60)
    )

    without_features = run()
    with_features = run(features_=["products_purchased", "complains", "money_spent"], k=3)

    assert "import orders" in without_features.error
    assert with_features.status == SegmentationRun.Status.SUCCEEDED, with_features.error
    assert len(current_segments()) == 60


def test_history_as_of_a_past_date_ignores_later_orders(shop):
    run(k=3)
    result = run(k=3, as_of=dt.date(2026, 3, 1))

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.as_of == dt.date(2026, 3, 1)
    exported = services.segments_export(run=result).set_index("customer_id")
    # Newcomers had not bought yet on that date; the maintained stats still know their order.
    assert (exported.loc[[f"C{n:04d}" for n in range(41, 61)], "frequency"] == 0).all()
    assert Customer.objects.get(external_id="C0041").stats.frequency == 1


def test_the_segment_command_prints_json(shop):
    out = StringIO()
    call_command("segment", "--k", "3", "--json", stdout=out)

    summary = json.loads(out.getvalue())

    assert summary["status"] == "succeeded"
    assert summary["k"] == 3
    assert len(summary["segments"]) == 3
    assert sum(s["size"] for s in summary["segments"]) == 60


def test_the_segment_command_rejects_bad_options(shop):
    with pytest.raises(CommandError, match="--k must be"):
        call_command("segment", "--k", "many")
    with pytest.raises(CommandError, match="failed: .*nope"):
        call_command("segment", "--features", "nope", stdout=StringIO())


def test_export_segments_writes_the_contract_columns(shop, tmp_path):
    call_command("segment", "--k", "3", stdout=StringIO(), stderr=StringIO())
    output = tmp_path / "segments.csv"

    call_command("export_segments", "--output", str(output), stdout=StringIO())

    frame = pd.read_csv(output, dtype={"rfm_code": str})
    assert list(frame.columns) == services.EXPORT_COLUMNS
    assert len(frame) == 60
    vip = frame.set_index("customer_id").loc["C0001"]
    assert vip["frequency"] >= 12 and vip["r_score"] >= 4
    assert len(vip["rfm_code"]) == 3


def test_export_of_an_unknown_run_is_a_clear_error(shop, tmp_path):
    with pytest.raises(CommandError, match="no segmentation run 999"):
        call_command("export_segments", "--run", "999", "--output", str(tmp_path / "x.csv"))


def test_segments_not_renamed_by_a_marketer_follow_their_profile(shop):
    first = run(k=3)
    segment = Segment.objects.get(key=first.profiles[0]["key"])
    Segment.objects.filter(pk=segment.pk).update(name="Stale automatic name")

    run(k=3)

    segment.refresh_from_db()
    assert segment.name == first.profiles[0]["name"]


def test_a_run_the_broker_refuses_is_failed_with_the_reason(shop, monkeypatch, django_capture_on_commit_callbacks):
    from segments import tasks

    def refuse(**kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.segmentation_run_task, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.segmentation_run_queue(k=3)

    queued.refresh_from_db()
    assert queued.status == "failed"
    assert "broker down" in queued.error


def test_a_segment_retired_by_an_rfm_run_comes_back_with_its_key(shop):
    first = run(k=3)
    run(algorithm="rfm")
    assert not Segment.objects.filter(key__in=[p["key"] for p in first.profiles], is_active=True).exists()

    again = run(k=3)

    assert {p["key"] for p in again.profiles} == {p["key"] for p in first.profiles}
    assert Segment.objects.filter(key__in=[p["key"] for p in first.profiles], is_active=True).count() == 3


def test_an_all_constant_feature_is_a_clear_error(shop):
    Customer.objects.update(attributes={"complains": 0})

    result = run(features_=["recency_days", "complains"])

    assert result.status == SegmentationRun.Status.FAILED
    assert "complains" in result.error and "every customer" in result.error


def test_descriptions_use_the_shops_currency(shop, settings):
    settings.CURRENCY_SYMBOL = "€"

    result = run(k=3)

    assert any("€" in p["description"] for p in result.profiles)


def test_a_non_numeric_attribute_fails_the_run_naming_it(shop):
    Customer.objects.filter(external_id="C0003").update(attributes={"complains": "often"})
    Customer.objects.exclude(external_id="C0003").update(attributes={"complains": 1})

    result = run(features_=["recency_days", "complains"])

    assert result.status == SegmentationRun.Status.FAILED
    assert "'complains' is not numeric" in result.error and "often" in result.error
