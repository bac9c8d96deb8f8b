"""The features a run can be asked for on the runs page: only those a run computes."""

import pandas as pd

from segments import features, services
from segments.admin.runs import RunNowForm


def _computed_columns(*, engagement):
    orders = pd.DataFrame({
        "customer_id": [1, 2], "ordered_at": pd.to_datetime(["2026-01-01", "2026-02-01"], utc=True),
        "amount": [10.0, 20.0], "quantity": [1, 2], "is_return": [False, False],
    })
    given = None
    if engagement:
        given = pd.DataFrame({name: [0.5] if name != "days_since_last_response" else [3.0]
                              for name in features.ENGAGEMENT_FEATURES}, index=pd.Index([1], name="customer_id"))
    frame = features.build_features(features.order_stats(orders), as_of=pd.Timestamp("2026-03-01").date(),
                                    engagement=given)
    return set(frame.columns)


def test_the_run_form_offers_only_features_that_runs_compute():
    offered = [name for name, _ in RunNowForm().fields["features"].choices]

    assert not services.ENGAGEMENT_SUPPLIED
    assert set(offered) <= _computed_columns(engagement=False)
    assert not set(offered) & set(features.ENGAGEMENT_FEATURES)
    assert {"recency_days", "frequency", "monetary"} <= set(offered)


def test_engagement_features_are_offered_once_runs_are_given_engagement():
    offered = features.offered_features(engagement=True)

    assert set(features.ENGAGEMENT_FEATURES) <= set(offered)
    assert set(offered) <= _computed_columns(engagement=True)
