"""What a run reads before it computes anything: its reference date and the features it uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import timezone

from segments import features, selectors
from segments.models import Algorithm, Customer, SegmentationRun

from .errors import SegmentationError


def run_reference(run: SegmentationRun) -> tuple[dt.date, dt.datetime | None]:
    """The run's as-of date, and the cut-off for orders when it lies in the past."""
    latest = selectors.latest_order_at()
    if latest is None:
        if not Customer.objects.exists():
            raise SegmentationError("the shop is empty: import customers and orders first")
        return run.as_of or timezone.now().date(), None
    if run.as_of is None:
        _refuse_implausible_latest(latest)
    as_of = run.as_of or features.day_after(latest)
    return as_of, features.history_cutoff(as_of, latest)


def _refuse_implausible_latest(latest: dt.datetime) -> None:
    """An order dated after the last plausible day (9999-12-31 for "no date", a typo for
    3024) would make everyone's recency centuries long: refuse, and say which order."""
    _first, last = selectors.plausible_order_dates()
    if last == dt.date.max or latest < timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time())):
        return
    order = selectors.latest_order()
    raise SegmentationError(
        f"order {order.external_id} of customer {order.customer.external_id} is dated {latest:%Y-%m-%d %H:%M} UTC, "
        f"after {last} (IMPORT_LATEST_DATE), so every customer's recency would count from then: correct or delete "
        "that order, or segment as of a date (--as-of)"
    )


def run_feature_names(run: SegmentationRun) -> tuple[list[str], list[str]]:
    """The features to cluster on, and which of them are customer attributes."""
    names = list(run.features) or list(features.DEFAULT_FEATURES)
    if run.algorithm == Algorithm.RFM:
        names = list(features.DEFAULT_FEATURES)
    return names, attributes_for(names)


def attributes_for(names: Sequence[str]) -> list[str]:
    # A name that is not computed from orders must be an attribute: the features module checks
    # it exists on some customer. Computed names that are also attributes are read too, so an
    # imported summary (the "simple" shape) can stand in for orders.
    return [name for name in names if name not in features.COMPUTED_COLUMNS or name in features.OVERRIDABLE]
