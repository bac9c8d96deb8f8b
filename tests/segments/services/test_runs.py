"""Segmentation runs end to end through the service: what they find, keep, refuse and record."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from segments import clustering, selectors, services
from segments.models import Customer, CustomerStats, Membership, Order, Segment, SegmentationRun

from ..conftest import NOW, current_segments, make_shop, run

pytestmark = pytest.mark.django_db


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
    assert set(result.timings) >= {"aggregate", "fit", "total"}
    assert result.model_state["columns"] == ["recency_days", "frequency", "monetary"]
    # Every K tried carries its stability; three clear groups carry no warning.
    assert [c["k"] for c in result.k_candidates if "stability" in c] == list(range(3, 11))
    assert next(c for c in result.k_candidates if c["k"] == 3)["stability"] == 1.0
    assert result.warnings == []


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
    assert sum(second.transitions[clustering.NO_PREVIOUS_SEGMENT].values()) == 9
    assert Membership.objects.count() == 69


def test_a_failed_run_leaves_the_previous_membership_in_force_and_says_why(shop):
    good = run(k=3)
    before = current_segments()

    bad = run(feature_names=["recency_days", "shoe_size"])

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


def test_an_incremental_run_keeps_the_models_warnings_and_measures_the_sizes_anew(db):
    make_shop(groups={"vip": 3, "lapsed": 40, "new": 2})
    Customer.objects.update(attributes={"complains": 0})
    # Forced live: its dominant segment would hold it back as a draft, and incremental runs build on live runs.
    base = run(k=2, feature_names=["recency_days", "frequency", "monetary", "complains"], go_live="always")
    assert [w["code"] for w in base.warnings] == ["constant_feature_left_out", "dominant_segment"]
    newcomer = Customer.objects.get(external_id="C0044")
    Order.objects.create(customer=newcomer, external_id="again", ordered_at=NOW, amount=55, quantity=1)
    Customer.objects.filter(pk=newcomer.pk).update(updated_at=timezone.now())

    incremental = run(incremental=True)

    assert incremental.status == SegmentationRun.Status.SUCCEEDED, incremental.error
    assert [w["code"] for w in incremental.warnings] == ["constant_feature_left_out", "dominant_segment"]
    assert incremental.warnings[0] == base.warnings[0]


def test_the_rfm_algorithm_needs_no_model(shop):
    result = run(algorithm="rfm")

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    names = {p["name"] for p in result.profiles}
    assert names <= set(clustering.RFM_SEGMENTS)
    assert all(key.startswith("rfm-") for key in current_segments().values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feature_names": ["recency_days", "nope"]}, "nope"),
    ],
)
def test_bad_requests_fail_with_a_clear_reason(shop, kwargs, message):
    result = run(**kwargs)

    assert result.status == SegmentationRun.Status.FAILED
    assert message in result.error


def test_more_segments_than_customers_fail_with_a_clear_reason(db):
    # Was k=500 on the 60-customer shop; a K above services.K_MAX is now refused before the
    # run exists, so a smaller shop asks for more segments than it has customers.
    make_shop(groups={"vip": 10, "lapsed": 10, "new": 10})

    result = run(k=40)

    assert result.status == SegmentationRun.Status.FAILED
    assert "too few" in result.error


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
    with_features = run(feature_names=["products_purchased", "complains", "money_spent"], k=3)

    assert "import orders" in without_features.error
    assert with_features.status == SegmentationRun.Status.SUCCEEDED, with_features.error
    assert len(current_segments()) == 60


def test_segments_not_renamed_by_a_marketer_follow_their_profile(shop):
    first = run(k=3)
    segment = Segment.objects.get(key=first.profiles[0]["key"])
    Segment.objects.filter(pk=segment.pk).update(name="Stale automatic name")

    run(k=3)

    segment.refresh_from_db()
    assert segment.name == first.profiles[0]["name"]


def test_a_segment_retired_by_an_rfm_run_comes_back_with_its_key(shop):
    first = run(k=3)
    run(algorithm="rfm")
    assert not Segment.objects.filter(key__in=[p["key"] for p in first.profiles], is_active=True).exists()

    again = run(k=3)

    assert {p["key"] for p in again.profiles} == {p["key"] for p in first.profiles}
    assert Segment.objects.filter(key__in=[p["key"] for p in first.profiles], is_active=True).count() == 3


def test_a_feature_the_same_for_every_customer_is_left_out_with_a_warning(shop):
    Customer.objects.update(attributes={"complains": 0})

    result = run(feature_names=["recency_days", "complains"])

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.features == result.model_state["features"] == ["recency_days"]
    assert result.warnings == [
        {
            "code": "constant_feature_left_out",
            "message": "'complains' is 0 for every customer, so it cannot tell customers apart and was left out.",
        }
    ]


def test_a_run_whose_every_feature_is_the_same_for_everyone_fails_saying_so(shop):
    Customer.objects.update(attributes={"complains": 0})

    result = run(feature_names=["complains"])

    assert result.status == SegmentationRun.Status.FAILED
    assert "complains" in result.error and "every customer" in result.error
    assert "every feature asked for is the same for every customer (complains is 0)" in result.error


def test_a_young_shop_where_everyone_bought_once_is_segmented_without_frequency(db):
    customers = Customer.objects.bulk_create(Customer(external_id=f"Y{i:03d}") for i in range(90))
    Order.objects.bulk_create(
        Order(
            customer=customer,
            external_id=f"YO{i:03d}",
            ordered_at=NOW - dt.timedelta(days=2 + (i % 3) * 120 + i % 7),
            amount=20 + (i % 3) * 150 + i % 5,
            quantity=1,
        )
        for i, customer in enumerate(customers)
    )

    result = run()

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.features == ["recency_days", "monetary"]
    assert [w["code"] for w in result.warnings] == ["constant_feature_left_out"]
    assert result.warnings[0]["message"].startswith("'frequency' is 1 for every customer")
    assert result.k == 3


def test_a_segment_of_nearly_everyone_is_flagged_and_the_run_is_not_fit_to_apply(db):
    make_shop(groups={"vip": 3, "lapsed": 40, "new": 2})

    result = run(k=2)

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert "dominant_segment" in [w["code"] for w in result.warnings]
    assert not clustering.fit_to_apply(result.warnings)


def test_a_segment_of_a_handful_of_customers_is_flagged(db):
    make_shop(groups={"vip": 1, "lapsed": 60, "new": 60})

    result = run(k=3)

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    tiny = [w for w in result.warnings if w["code"] == "tiny_segment"]
    assert len(tiny) == 1 and "holds only 0.8% of your customers (1)" in tiny[0]["message"]
    assert not clustering.fit_to_apply(result.warnings)


def test_an_attribute_missing_for_most_customers_is_flagged(shop):
    for n, customer in enumerate(Customer.objects.order_by("external_id")[:10]):
        customer.attributes = {"age": 20 + n}
        customer.save()

    result = run(feature_names=["recency_days", "frequency", "monetary", "age"], k=3)

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert [w["code"] for w in result.warnings] == ["mostly_missing_feature"]
    assert result.warnings[0]["message"].startswith("'age' is missing for 83% of your customers")
    assert not clustering.fit_to_apply(result.warnings)


def test_the_k_range_comes_from_the_settings_and_can_be_set_per_run(shop):
    assert (services.DEFAULT_PARAMS["k_min"], services.DEFAULT_PARAMS["k_max"]) == (
        settings.SEGMENT_K_MIN,
        settings.SEGMENT_K_MAX,
    ) == (3, 10)

    result = run(params={"k_min": 4, "k_max": 6})

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert (result.params["k_min"], result.params["k_max"]) == (4, 6)
    assert [c["k"] for c in result.k_candidates if "stability" in c] == [4, 5, 6]
    assert 4 <= result.k <= 6


def test_descriptions_use_the_shops_currency(shop, settings):
    settings.CURRENCY_SYMBOL = "€"

    result = run(k=3)

    assert any("€" in p["description"] for p in result.profiles)


def test_a_non_numeric_attribute_fails_the_run_naming_it(shop):
    Customer.objects.filter(external_id="C0003").update(attributes={"complains": "often"})
    Customer.objects.exclude(external_id="C0003").update(attributes={"complains": 1})

    result = run(feature_names=["recency_days", "complains"])

    assert result.status == SegmentationRun.Status.FAILED
    assert "'complains' is not numeric" in result.error and "often" in result.error


@pytest.mark.parametrize("algorithm", sorted(clustering.ALGORITHMS))
def test_every_algorithm_runs_through_the_service(shop, algorithm):
    result = run(algorithm=algorithm, k=None if not clustering.ALGORITHMS[algorithm].needs_k else 3)

    assert result.status == SegmentationRun.Status.SUCCEEDED, result.error
    assert result.algorithm == algorithm
    assert sum(p["size"] for p in result.profiles) == 60
    assert len(current_segments()) == 60
    noise = sum(1 for p in result.profiles if p.get("noise"))
    assert Segment.objects.filter(is_active=True).count() == len(result.profiles) == result.k + noise


@pytest.mark.parametrize(
    "request_, message",
    [
        ({"algorithm": "dbscan"}, "unknown algorithm 'dbscan'"),
        ({"k": 1}, "at least 2, got 1"),
        ({"k": 99999}, "--k must be 'auto' or a whole number of segments, at most 50 and at least 2, got 99999"),
        ({"k": 51}, "at most 50"),
        ({"feature_names": ["recency_days", "a'b"]}, "feature \"a'b\": a feature or attribute name may hold only"),
        ({"params": {"seed": -1}}, "--seed must be a whole number from 0 to 4294967295, got -1"),
        ({"params": {"seed": 2**32}}, "--seed must be a whole number from 0 to 4294967295"),
        ({"as_of": dt.date(1600, 1, 1)}, "--as-of must be a date from 1900-01-01 to 2200-12-31, got 1600-01-01"),
        ({"params": {"seeed": 1}}, "unknown run parameter(s): seeed"),
        ({"algorithm": "rfm", "incremental": True}, "which rfm does not have"),
        ({"algorithm": "hdbscan", "incremental": True}, "which hdbscan does not have"),
        ({"params": {"k_min": 6, "k_max": 4}}, "the least first: got --k-min 6 and --k-max 4"),
        ({"params": {"k_min": 1}}, "from at least 2 to at most 20"),
        ({"params": {"k_max": 21}}, "got --k-min 3 and --k-max 21"),
    ],
)
def test_a_bad_request_is_refused_before_any_run_exists(db, request_, message):
    with pytest.raises(services.SegmentationError) as refused:
        services.segmentation_run_create(**request_)

    assert message in str(refused.value)
    assert not SegmentationRun.objects.exists()


def test_fifty_segments_may_be_asked_for(db):
    assert services.segmentation_run_create(k=services.K_MAX).k_requested == 50


def test_a_run_row_with_a_hostile_feature_name_fails_with_the_reason_and_sends_it_to_no_query(shop, sql_sent):
    # A row written some other way than segmentation_run_create (an old row, a script): the
    # bulk read refuses the name before building its query.
    queued = SegmentationRun.objects.create(features=["recency_days", "x') OR 1=1 --"], params=services.DEFAULT_PARAMS)

    result = services.segmentation_run_execute(run_id=queued.pk)

    assert result.status == SegmentationRun.Status.FAILED
    assert "feature \"x') OR 1=1 --\"" in result.error and "internal error" not in result.error
    # The run's own row holds the name as data; no read of the customers carries it.
    customer_reads = [statement for statement in sql_sent() if Customer._meta.db_table in statement]
    assert customer_reads and not [statement for statement in customer_reads if "OR 1=1" in statement]


def test_a_run_records_the_request_and_the_default_parameters(db):
    created = services.segmentation_run_create(
        algorithm="gmm", k=4, feature_names=["recency_days", "monetary"], params={"seed": 7}, triggered_by="test"
    )

    assert (created.status, created.algorithm, created.k_requested) == ("queued", "gmm", 4)
    assert created.features == ["recency_days", "monetary"]
    assert created.params == {**services.DEFAULT_PARAMS, "seed": 7}


def test_a_run_that_is_not_queued_cannot_be_executed_again(shop):
    done = run(k=3)

    with pytest.raises(services.SegmentationError, match=f"run {done.pk} is succeeded, not queued"):
        services.segmentation_run_execute(run_id=done.pk)


@pytest.mark.parametrize("incremental", [False, True])
def test_orders_dated_0001_or_9999_refuse_the_run_with_the_order_named_not_a_crash(shop, settings, incremental):
    settings.TIME_ZONE = "Europe/London"
    if incremental:
        assert run().status == SegmentationRun.Status.SUCCEEDED
    customer = Customer.objects.get(external_id="C0001")
    for external_id, when in (("NO-DATE", dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)),
                              ("ANCIENT", dt.datetime(1, 1, 1, tzinfo=dt.UTC))):
        Order.objects.create(customer=customer, external_id=external_id, ordered_at=when, amount=1)

    refused = run(incremental=incremental)
    as_of = run(as_of=NOW.date() + dt.timedelta(days=1))

    assert refused.status == SegmentationRun.Status.FAILED
    assert refused.error.startswith("order NO-DATE of customer C0001 is dated 9999-12-31 23:59 UTC, after ")
    assert "(IMPORT_LATEST_DATE)" in refused.error and "--as-of" in refused.error
    assert as_of.status == SegmentationRun.Status.SUCCEEDED, as_of.error
    assert as_of.n_customers == 60
