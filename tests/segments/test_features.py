"""Features from orders, by hand on a small shop, and the errors that stop a bad segmentation.

The small shop, as of 2024-07-01 (midnight UTC):

| customer | orders                                                     | buys? |
|----------|------------------------------------------------------------|-------|
| 1        | 05-01 50.00 x1, 06-30 10:00 100.00 x2                      | yes   |
| 2        | 06-01 09:00 80.00 x4, then a return 06-10 -20.00 x-1       | yes   |
| 3        | only a return, 06-15 -40.00 x-2                            | no    |
| 4        | 01-01 150.00 x3                                            | yes   |
| 5        | 03-01 150.00 x1 (ties customer 4 on frequency and money)   | yes   |
| 6        | 06-20, 06-25, 06-28: 30.00 x1 each                         | yes   |
| 7        | 02-15 500.00 x10, 06-28 12:00 500.00 x10                   | yes   |
| 8, 9     | none, known only as customers                              | no    |
"""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from segments.features import (
    COMPUTED_COLUMNS,
    DEFAULT_FEATURES,
    DERIVED_FEATURES,
    ENGAGEMENT_FEATURES,
    ORDER_STATS_COLUMNS,
    FeatureError,
    build_features,
    day_after,
    history_cutoff,
    order_stats,
    select_features,
    varying_features,
)

AS_OF = datetime.date(2024, 7, 1)
SHOP_ORDERS = [
    # customer_id, ordered_at (UTC), amount, quantity, is_return
    (1, "2024-05-01 00:00", 50.0, 1, False),
    (1, "2024-06-30 10:00", 100.0, 2, False),
    (2, "2024-06-01 09:00", 80.0, 4, False),
    (2, "2024-06-10 00:00", -20.0, -1, True),
    (3, "2024-06-15 00:00", -40.0, -2, True),
    (4, "2024-01-01 00:00", 150.0, 3, False),
    (5, "2024-03-01 00:00", 150.0, 1, False),
    (6, "2024-06-20 00:00", 30.0, 1, False),
    (6, "2024-06-25 00:00", 30.0, 1, False),
    (6, "2024-06-28 00:00", 30.0, 1, False),
    (7, "2024-02-15 00:00", 500.0, 10, False),
    (7, "2024-06-28 12:00", 500.0, 10, False),
]


def make_orders(rows):
    customer_id, ordered_at, amount, quantity, is_return = zip(*rows) if rows else ([],) * 5
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customer_id, dtype="int64"),
            "ordered_at": pd.to_datetime(pd.Series(ordered_at, dtype="str"), utc=True),
            "amount": pd.Series(amount, dtype="float64"),
            "quantity": pd.Series(quantity, dtype="int64"),
            "is_return": pd.Series(is_return, dtype="bool"),
        }
    )


def make_customers(ids, created_at="2023-01-01", **attributes):
    return pd.DataFrame(
        {"created_at": pd.Timestamp(created_at, tz="UTC"), **attributes},
        index=pd.Index(ids, name="customer_id"),
    )


def make_stats(ids, *, frequency, monetary, last_order_at="2024-06-01"):
    """Stats for customers who each bought; one last order date unless a list is given."""
    n = len(ids)
    dates = last_order_at if isinstance(last_order_at, list) else [last_order_at] * n
    last = pd.to_datetime(pd.Series(dates), utc=True)
    return pd.DataFrame(
        {
            "first_order_at": last.to_numpy(),
            "last_order_at": last.to_numpy(),
            "frequency": frequency,
            "returns": [0] * n,
            "monetary": [float(value) for value in monetary],
            "quantity": frequency,
        },
        index=pd.Index(ids, name="customer_id"),
    )


@pytest.fixture
def shop():
    stats = order_stats(make_orders(SHOP_ORDERS))
    return build_features(stats, as_of=AS_OF, customers=make_customers(range(1, 10)))


# order_stats


def test_order_stats_aggregates_each_customer_by_hand():
    stats = order_stats(make_orders(SHOP_ORDERS))

    assert list(stats.columns) == list(ORDER_STATS_COLUMNS)
    assert stats.index.name == "customer_id"
    assert stats.index.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert stats["frequency"].tolist() == [2, 1, 0, 1, 1, 3, 2]
    assert stats["returns"].tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert stats["monetary"].tolist() == [150.0, 60.0, -40.0, 150.0, 150.0, 90.0, 1000.0]
    assert stats["quantity"].tolist() == [3, 4, 0, 3, 1, 3, 20]
    assert stats.loc[1, "first_order_at"] == pd.Timestamp("2024-05-01", tz="UTC")
    assert stats.loc[1, "last_order_at"] == pd.Timestamp("2024-06-30 10:00", tz="UTC")


def test_order_stats_dates_the_last_order_by_purchases_and_the_first_by_anything():
    stats = order_stats(make_orders(SHOP_ORDERS))

    # Customer 2 returned something nine days after buying: the return is not the last order.
    assert stats.loc[2, "last_order_at"] == pd.Timestamp("2024-06-01 09:00", tz="UTC")
    assert stats.loc[3, "first_order_at"] == pd.Timestamp("2024-06-15", tz="UTC")
    assert pd.isna(stats.loc[3, "last_order_at"])


def test_order_stats_has_the_documented_dtypes():
    stats = order_stats(make_orders(SHOP_ORDERS))

    assert str(stats["first_order_at"].dtype).endswith(", UTC]")
    assert str(stats["last_order_at"].dtype).endswith(", UTC]")
    assert {stats[c].dtype.name for c in ("frequency", "returns", "quantity")} == {"int64"}
    assert stats["monetary"].dtype == "float64"


def test_order_stats_takes_decimal_amounts_and_naive_utc_times_from_the_orm():
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "ordered_at": pd.to_datetime(["2024-06-01 23:30", "2024-06-02 08:00"]),
            "amount": [Decimal("19.99"), Decimal("-5.00")],
            "quantity": [2, -1],
            "is_return": [False, True],
        }
    )

    stats = order_stats(orders)

    assert stats.loc[1, "monetary"] == pytest.approx(14.99)
    assert stats.loc[1, "last_order_at"] == pd.Timestamp("2024-06-01 23:30", tz="UTC")


def test_order_stats_of_no_orders_is_an_empty_table_with_the_columns():
    stats = order_stats(make_orders([]))

    assert stats.empty
    assert list(stats.columns) == list(ORDER_STATS_COLUMNS)


def test_order_stats_names_a_missing_column():
    with pytest.raises(FeatureError, match="missing column is_return"):
        order_stats(make_orders(SHOP_ORDERS).drop(columns="is_return"))


def test_order_stats_names_the_customer_of_an_undated_order():
    orders = make_orders(SHOP_ORDERS)
    orders.loc[4, "ordered_at"] = pd.NaT

    with pytest.raises(FeatureError, match="order of customer 3 has no ordered_at"):
        order_stats(orders)


# build_features on the small shop


def test_it_returns_one_sorted_row_per_customer_with_the_documented_columns(shop):
    assert shop.index.name == "customer_id"
    assert shop.index.tolist() == list(range(1, 10))
    assert list(shop.columns) == [*DERIVED_FEATURES, "rfm_code", "has_orders"]


def test_it_computes_recency_in_whole_days_to_midnight_utc(shop):
    # Customer 1 bought 14 hours before midnight: 0 days; customer 7, 2.5 days before: 2.
    assert shop.loc[[1, 2, 4, 5, 6, 7], "recency_days"].tolist() == [0, 29, 182, 122, 3, 2]


def test_customers_without_orders_are_longer_ago_than_anyone(shop):
    assert shop.loc[[3, 8, 9], "recency_days"].tolist() == [183, 183, 183]


def test_it_computes_frequency_monetary_and_behaviour_by_hand(shop):
    assert shop["frequency"].tolist() == [2, 1, 0, 1, 1, 3, 2, 0, 0]
    assert shop["monetary"].tolist() == [150.0, 60.0, 0.0, 150.0, 150.0, 90.0, 1000.0, 0.0, 0.0]
    assert shop["tenure_days"].tolist() == [61, 29, 0, 182, 122, 11, 137, 0, 0]
    assert shop["avg_order_value"].tolist() == [75.0, 60.0, 0.0, 150.0, 150.0, 30.0, 500.0, 0.0, 0.0]
    assert shop["products_purchased"].tolist() == [3, 4, 0, 3, 1, 3, 20, 0, 0]
    assert shop["return_rate"].tolist() == [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert shop["has_orders"].tolist() == [True, True, False, True, True, True, True, False, False]


def test_a_customer_with_only_a_return_counts_as_having_bought_nothing(shop):
    row = shop.loc[3]

    assert not row["has_orders"]
    assert (row["monetary"], row["return_rate"], row["tenure_days"]) == (0.0, 0.0, 0)


def test_it_scores_buyers_in_quintiles_with_ties_broken_by_customer_id(shop):
    # Six buyers: qcut of ranks 1..6 gives 1, 1, 2, 3, 4, 5.
    # Frequency 1 is shared by 2, 4, 5 and frequency 2 by 1, 7: ranks go by id within a tie.
    # Monetary 150 is shared by 1, 4, 5.
    buyers = shop.loc[[1, 2, 4, 5, 6, 7]]

    assert buyers["r_score"].tolist() == [5, 2, 1, 1, 3, 4]
    assert buyers["f_score"].tolist() == [3, 1, 1, 2, 5, 4]
    assert buyers["m_score"].tolist() == [2, 1, 3, 4, 1, 5]


def test_customers_without_orders_score_lowest_and_are_not_ranked(shop):
    assert shop.loc[[3, 8, 9], ["r_score", "f_score", "m_score"]].to_numpy().tolist() == [[1, 1, 1]] * 3


def test_rfm_code_joins_the_three_scores(shop):
    assert shop["rfm_code"].tolist() == ["532", "211", "111", "113", "124", "351", "445", "111", "111"]


def test_it_has_the_documented_dtypes(shop):
    ints = ["recency_days", "frequency", "r_score", "f_score", "m_score", "tenure_days", "products_purchased"]
    floats = ["monetary", "avg_order_value", "return_rate"]

    assert {shop[column].dtype.name for column in ints} == {"int64"}
    assert {shop[column].dtype.name for column in floats} == {"float64"}
    assert shop["rfm_code"].dtype == "str"
    assert shop["has_orders"].dtype == "bool"


def test_it_ranks_ties_by_customer_id_whatever_order_the_stats_come_in():
    stats = make_stats([30, 10, 20], frequency=[2, 2, 2], monetary=[50, 50, 50])

    features = build_features(stats, as_of=AS_OF)

    assert features.index.tolist() == [10, 20, 30]
    assert features["f_score"].tolist() == [1, 3, 5]
    assert features["m_score"].tolist() == [1, 3, 5]
    # Recency is tied too; the lower id gets the lower score on every axis.
    assert features["rfm_code"].tolist() == ["111", "333", "555"]


@pytest.mark.parametrize(
    ("buyers", "scores"),
    [(1, [5]), (2, [1, 5]), (3, [1, 3, 5]), (4, [1, 2, 4, 5]), (5, [1, 2, 3, 4, 5])],
)
def test_fewer_than_five_buyers_still_spread_over_one_to_five(buyers, scores):
    stats = make_stats(list(range(buyers)), frequency=list(range(1, buyers + 1)), monetary=[10] * buyers)

    features = build_features(stats, as_of=AS_OF, customers=make_customers(range(buyers + 2)))

    assert features["f_score"].tolist() == [*scores, 1, 1]


# as_of


def test_moving_as_of_later_ages_recency_and_tenure_but_not_scores(shop):
    stats = order_stats(make_orders(SHOP_ORDERS))

    later = build_features(stats, as_of=AS_OF + datetime.timedelta(days=10), customers=make_customers(range(1, 10)))

    assert (later["recency_days"] - shop["recency_days"]).tolist() == [10] * 9
    buyers = shop["has_orders"]
    assert (later["tenure_days"] - shop["tenure_days"])[buyers].tolist() == [10] * 6
    assert later["rfm_code"].tolist() == shop["rfm_code"].tolist()


def test_orders_after_as_of_clip_recency_and_tenure_at_zero():
    stats = make_stats([1, 2], frequency=[1, 1], monetary=[10, 20], last_order_at=["2024-07-05", "2024-06-01"])

    features = build_features(stats, as_of=AS_OF)

    assert features.loc[1, ["recency_days", "tenure_days"]].tolist() == [0, 0]
    assert features.loc[2, ["recency_days", "tenure_days"]].tolist() == [30, 30]


def test_as_of_must_be_a_date_not_a_moment():
    stats = order_stats(make_orders(SHOP_ORDERS))

    with pytest.raises(TypeError, match="as_of must be a date"):
        build_features(stats, as_of=datetime.datetime(2024, 7, 1, 12))


def test_when_nobody_has_orders_recency_is_the_time_since_the_customer_joined():
    customers = make_customers([1, 2])
    customers["created_at"] = pd.to_datetime(["2024-06-01 00:00", "2024-06-21 18:00"], utc=True)

    features = build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers)

    assert features["recency_days"].tolist() == [30, 9]
    assert features["rfm_code"].tolist() == ["111", "111"]


def test_a_customer_listed_twice_is_named():
    customers = make_customers([1, 2, 2])

    with pytest.raises(FeatureError, match="customer 2 appears more than once"):
        build_features(order_stats(make_orders(SHOP_ORDERS)), as_of=AS_OF, customers=customers)


def test_stats_that_count_orders_without_a_last_order_date_name_the_customer():
    stats = make_stats([1, 2], frequency=[1, 2], monetary=[10, 20])
    stats.loc[2, "last_order_at"] = pd.NaT

    with pytest.raises(FeatureError, match="customer 2 has 2 orders but no last_order_at"):
        build_features(stats, as_of=AS_OF)


# Attributes


def test_the_simple_data_set_clusters_on_its_own_columns():
    customers = make_customers(
        ["c1", "c2", "c3"],
        products_purchased=[3.0, 10.0, 1.0],
        complains=[0.0, 1.0, np.nan],
        money_spent=[120.5, 800.0, 15.0],
    )
    attributes = ["products_purchased", "complains", "money_spent"]

    features = build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers, attributes=attributes)

    assert list(features.columns) == [*DERIVED_FEATURES, "rfm_code", "has_orders", "complains", "money_spent"]
    assert features["products_purchased"].tolist() == [3, 10, 1]
    assert features["products_purchased"].dtype == "int64"
    assert features["money_spent"].tolist() == [120.5, 800.0, 15.0]
    assert features["complains"].isna().tolist() == [False, False, True]
    chosen = select_features(features, ["products_purchased", "complains", "money_spent"])
    assert chosen.shape == (3, 3)


def test_an_attribute_named_like_a_derived_feature_wins_where_it_has_a_value(shop):
    stats = order_stats(make_orders(SHOP_ORDERS))
    given = [100, np.nan, 7, np.nan, 2.5, np.nan, np.nan, 9, np.nan]
    customers = make_customers(range(1, 10), products_purchased=given)

    features = build_features(stats, as_of=AS_OF, customers=customers, attributes=["products_purchased"])

    assert features["products_purchased"].tolist() == [100.0, 4.0, 7.0, 3.0, 2.5, 3.0, 20.0, 9.0, 0.0]
    # Only the derived column changes; scores still come from orders.
    assert features.drop(columns="products_purchased").equals(shop.drop(columns="products_purchased"))


def test_an_override_of_a_derived_feature_that_no_customer_has_leaves_the_orders_figures(shop):
    stats = order_stats(make_orders(SHOP_ORDERS))
    customers = make_customers(range(1, 10), monetary=np.nan)
    asked = ["monetary", "products_purchased"]  # the second is not even a column

    features = build_features(stats, as_of=AS_OF, customers=customers, attributes=asked)

    assert features.equals(shop)


def test_numbers_from_json_attributes_are_accepted():
    customers = make_customers([1, 2, 3], complains=pd.Series([1, None, 0], index=[1, 2, 3], dtype=object))

    features = build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers, attributes=["complains"])

    assert features["complains"].dtype == "float64"
    assert features["complains"].fillna(-1).tolist() == [1.0, -1.0, 0.0]


def test_a_non_numeric_attribute_is_named_with_an_example():
    customers = make_customers([1, 2, 3], complains=pd.Series([0, 1, "yes"], index=[1, 2, 3], dtype=object))

    with pytest.raises(FeatureError, match=r"attribute 'complains' is not numeric: customer 3 has 'yes'"):
        build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers, attributes=["complains"])


def test_an_attribute_no_customer_has_is_refused():
    customers = make_customers([1, 2], complains=[np.nan, np.nan])
    stats = order_stats(make_orders([]))

    with pytest.raises(FeatureError, match="attribute 'loyalty_points': no customer has it"):
        build_features(stats, as_of=AS_OF, customers=customers, attributes=["loyalty_points"])
    with pytest.raises(FeatureError, match="attribute 'complains': no customer has a value"):
        build_features(stats, as_of=AS_OF, customers=customers, attributes=["complains"])


def test_an_attribute_may_not_take_the_name_of_a_computed_flag():
    customers = make_customers([1, 2], rfm_code=[1.0, 2.0])

    with pytest.raises(FeatureError, match="attribute 'rfm_code' has the name of a computed column"):
        build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers, attributes=["rfm_code"])


# Engagement


def test_engagement_is_added_and_customers_never_reached_get_zero_rates_and_never():
    stats = order_stats(make_orders(SHOP_ORDERS))
    engagement = pd.DataFrame(
        {
            "open_rate": [0.5, 1.0, 0.2],
            "click_rate": [0.25, 0.5, 0.0],
            "conversion_rate": [0.0, 0.5, 0.0],
            "days_since_last_response": [3.0, 40.0, np.nan],
        },
        index=pd.Index([1, 7, 42], name="customer_id"),  # 42 is no customer of this shop
    )
    engagement.loc[2] = [0.1, 0.0, 0.0, np.nan]  # reached, never responded

    features = build_features(stats, as_of=AS_OF, customers=make_customers(range(1, 10)), engagement=engagement)

    assert list(features.columns)[-4:] == list(ENGAGEMENT_FEATURES)
    assert list(features.columns) == list(COMPUTED_COLUMNS)
    assert features.index.tolist() == list(range(1, 10))
    assert features["open_rate"].tolist() == [0.5, 0.1, 0, 0, 0, 0, 1.0, 0, 0]
    assert features["click_rate"].tolist() == [0.25, 0, 0, 0, 0, 0, 0.5, 0, 0]
    assert features["conversion_rate"].tolist() == [0, 0, 0, 0, 0, 0, 0.5, 0, 0]
    assert features["days_since_last_response"].tolist() == [3.0, 41.0, 41.0, 41.0, 41.0, 41.0, 40.0, 41.0, 41.0]


def test_engagement_without_a_column_is_refused():
    engagement = pd.DataFrame({"open_rate": [0.5]}, index=[1])

    with pytest.raises(FeatureError, match="engagement: missing columns click_rate, conversion_rate"):
        build_features(order_stats(make_orders(SHOP_ORDERS)), as_of=AS_OF, engagement=engagement)


def test_a_rate_outside_zero_to_one_names_the_customer():
    engagement = pd.DataFrame(
        {"open_rate": [0.5, 35.0], "click_rate": 0.0, "conversion_rate": 0.0, "days_since_last_response": 1.0},
        index=[1, 2],
    )

    with pytest.raises(FeatureError, match="open_rate of customer 2 is 35.0"):
        build_features(order_stats(make_orders(SHOP_ORDERS)), as_of=AS_OF, engagement=engagement)


# select_features


def test_select_features_returns_the_named_columns_in_order(shop):
    chosen = select_features(shop, ["monetary", "recency_days", "f_score"])

    assert list(chosen.columns) == ["monetary", "recency_days", "f_score"]
    assert chosen["monetary"].tolist() == shop["monetary"].tolist()


def test_the_default_features_are_selectable_on_the_small_shop(shop):
    assert list(select_features(shop, DEFAULT_FEATURES).columns) == list(DEFAULT_FEATURES)


def test_an_unknown_feature_is_refused_listing_the_available_ones(shop):
    with pytest.raises(FeatureError, match=r"unknown feature 'recency'; available: recency_days, frequency, "):
        select_features(shop, ["recency", "frequency"])


def test_a_constant_feature_is_refused_with_its_value():
    stats = make_stats([1, 2, 3], frequency=[3, 3, 3], monetary=[10, 20, 30])
    features = build_features(stats, as_of=AS_OF)

    with pytest.raises(FeatureError, match="all-constant feature 'frequency': every customer has 3$"):
        select_features(features, ["monetary", "frequency"])


def test_a_feature_constant_apart_from_missing_values_is_refused():
    customers = make_customers([1, 2, 3], complains=[1.0, np.nan, 1.0])
    features = build_features(order_stats(make_orders([])), as_of=AS_OF, customers=customers, attributes=["complains"])

    with pytest.raises(FeatureError, match="all-constant feature 'complains': every customer with a value has 1.0"):
        select_features(features, ["complains"])


def test_features_the_same_for_every_customer_are_left_out_with_their_value():
    stats = make_stats(
        [1, 2, 3], frequency=[1, 1, 1], monetary=[10, 20, 30], last_order_at=["2024-06-01", "2024-05-01", "2024-04-01"]
    )
    customers = make_customers([1, 2, 3], complains=[1.0, np.nan, 1.0])
    features = build_features(stats, as_of=AS_OF, customers=customers, attributes=["complains"])

    kept, constant = varying_features(features, ["recency_days", "frequency", "monetary", "complains", "nope"])

    assert kept == ["recency_days", "monetary", "nope"]  # an unknown name is select_features' to refuse
    assert constant == {"frequency": 1.0, "complains": 1.0}


def test_when_every_feature_is_the_same_for_everyone_nothing_tells_customers_apart():
    stats = make_stats([1, 2, 3], frequency=[1, 1, 1], monetary=[10, 10, 10])
    features = build_features(stats, as_of=AS_OF)

    message = r"every feature asked for is the same for every customer \(frequency is 1, monetary is 10\)"
    with pytest.raises(FeatureError, match=message):
        varying_features(features, ["frequency", "monetary"])


def test_a_non_numeric_feature_is_refused(shop):
    with pytest.raises(FeatureError, match="feature 'rfm_code' is not numeric"):
        select_features(shop, ["rfm_code"])


def test_an_empty_shop_has_nothing_to_select():
    features = build_features(order_stats(make_orders([])), as_of=AS_OF)

    assert features.empty
    assert list(features.columns) == [*DERIVED_FEATURES, "rfm_code", "has_orders"]
    with pytest.raises(FeatureError, match="no customers to segment"):
        select_features(features, DEFAULT_FEATURES)


# A larger shop


@pytest.fixture
def big_shop():
    rng = np.random.default_rng(7)
    buyers = 1000
    # Few distinct frequencies and rounded money: most customers are tied with many others.
    stats = make_stats(
        list(rng.permutation(buyers)),
        frequency=list(rng.poisson(1.5, buyers) + 1),
        monetary=list(np.round(rng.gamma(1.0, 40.0, buyers), -1)),
        last_order_at=list(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, buyers), unit="D")),
    )
    customers = make_customers(range(buyers + 50))
    return stats, build_features(stats, as_of=AS_OF, customers=customers)


def test_each_quintile_holds_a_fifth_of_the_buyers_despite_ties(big_shop):
    _, features = big_shop
    buyers = features[features["has_orders"]]

    for score in ("r_score", "f_score", "m_score"):
        assert buyers[score].value_counts().sort_index().tolist() == [200] * 5, score
    assert (features.loc[~features["has_orders"], ["r_score", "f_score", "m_score"]] == 1).all().all()


def test_scores_are_the_qcut_of_first_ranks_in_customer_id_order(big_shop):
    stats, features = big_shop
    ordered = stats.sort_index()

    def quintiles(values):
        return pd.qcut(values.rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype("int64")

    buyers = features[features["has_orders"]]
    assert buyers["f_score"].tolist() == quintiles(ordered["frequency"]).tolist()
    assert buyers["m_score"].tolist() == quintiles(ordered["monetary"]).tolist()
    assert buyers["r_score"].tolist() == quintiles(-buyers["recency_days"]).tolist()
    # The most recent, most frequent, biggest spenders score 5.
    assert buyers.loc[buyers["frequency"].idxmax(), "f_score"] == 5
    assert buyers.loc[buyers["recency_days"].idxmin(), "r_score"] == 5


def test_the_day_after_the_last_date_there_is_is_that_date():
    last = datetime.datetime(9999, 12, 31, 23, 59, tzinfo=datetime.UTC)

    assert day_after(datetime.datetime(2024, 6, 30, 23, 30, tzinfo=datetime.UTC)) == AS_OF
    assert day_after(last) == datetime.date.max
    assert history_cutoff(AS_OF, last) == datetime.datetime(2024, 7, 1, tzinfo=datetime.UTC)
