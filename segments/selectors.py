"""The reads other code may make of the segments app: runs, segments, members, order dates.

Other apps (campaigns), the admin pages and the commands read segments' tables only through
these functions; the bulk reads that feed a segmentation run live in segments.frames.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.conf import settings
from django.db.models import F, Max, Q, QuerySet, Sum
from django.utils import timezone

from segments import clustering, features, frames
from segments.audience import (  # noqa: F401  (what campaigns read)
    CUSTOMER_FIELDS,
    DAY_COUNTS,
    EMAIL_REACHABLE,
    OPERATORS,
    ORDER_FIGURES,
    SMS_REACHABLE,
    audience_frame,
    compile_conditions,
    condition_problems,
    contacts_frame,
    holds_sample_shop,
    message_data_frame,
    rfm_score_edges,
    segment_reach,
)
from segments.models import Customer, Membership, Order, Segment, SegmentationRun

EXPORT_COLUMNS = [
    "customer_id",
    "segment_key",
    "segment_name",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
]


def succeeded_runs(*, exclude: int | None = None) -> QuerySet[SegmentationRun]:
    """Successful runs, newest first (optionally leaving one out: the run asking)."""
    runs = SegmentationRun.objects.filter(status=SegmentationRun.Status.SUCCEEDED)
    if exclude is not None:
        runs = runs.exclude(pk=exclude)
    return runs.order_by("-pk")


def live_runs(*, exclude: int | None = None) -> QuerySet[SegmentationRun]:
    """Successful runs whose segments went live (drafts left out), newest first."""
    return succeeded_runs(exclude=exclude).filter(is_draft=False)


def latest_successful_run(*, exclude: int | None = None) -> SegmentationRun | None:
    """The live run: the newest whose segments went live (a draft changed nothing, so it is left out)."""
    return live_runs(exclude=exclude).first()



def revenue_shares(run: SegmentationRun) -> dict[int, float | None]:
    """Segment id -> its customers' share of all net spend, with the membership of `run`: one query.

    For runs whose profiles carry no revenue share (clustered without spend). A membership row is in
    force at run R from its run until the run that ended it: run <= R < ended_run. Spend is the
    customers' order stats now, the same figure the next run would cluster on.
    """
    spend = dict(
        Membership.objects.filter(run_id__lte=run.pk)
        .filter(Q(ended_run__isnull=True) | Q(ended_run_id__gt=run.pk))
        .values("segment_id")
        .annotate(spend=Sum("customer__stats__monetary"))
        .values_list("segment_id", "spend")
    )
    total = sum(value for value in spend.values() if value is not None)
    if total <= 0:
        return {segment_id: None for segment_id in spend}
    return {segment_id: float((value or 0) / total) for segment_id, value in spend.items()}

def latest_run() -> SegmentationRun | None:
    """The newest run whatever its state (queued, running, failed...)."""
    return SegmentationRun.objects.order_by("-pk").first()


def runs_with_centroids(*, exclude: int | None = None) -> QuerySet[SegmentationRun]:
    """Live runs that stored cluster centroids (to match new clusters against), newest first.
    A draft's keys name segments that may never exist."""
    return live_runs(exclude=exclude).filter(model_state__has_key="centroids")


def latest_run_with_centroids(*, exclude: int | None = None) -> SegmentationRun | None:
    """The run whose model an incremental run places changed customers with."""
    algorithms = [name for name, spec in clustering.ALGORITHMS.items() if spec.has_centroids]
    return runs_with_centroids(exclude=exclude).filter(algorithm__in=algorithms).first()


def latest_stats_watermark(*, exclude: int | None = None) -> dt.datetime | None:
    """Changes after this instant are not in CustomerStats yet (None: the stats were never built).
    Drafts count: they refresh the stats as any run does."""
    run = succeeded_runs(exclude=exclude).filter(stats_watermark__isnull=False).first()
    return run.stats_watermark if run else None


def latest_order_at() -> dt.datetime | None:
    return Order.objects.aggregate(latest=Max("ordered_at"))["latest"]


def segment_by_key_or_name(value: str) -> Segment | None:
    """A live segment by its key (stable across refits) or, failing that, its current name."""
    live = Segment.objects.filter(is_active=True)
    return live.filter(key=value).first() or live.filter(name__iexact=value).first()


def segments_by_id(ids) -> dict[int, Segment]:
    return Segment.objects.in_bulk(list(ids))


def customer_external_ids(ids) -> pd.Series:
    """The shop's own id of each given customer, by customer id (a query per 50,000 ids)."""
    ids = pd.unique(pd.Series(ids, dtype="int64").to_numpy())
    parts = [
        frames.read_frame(
            f"SELECT id, external_id FROM {frames.CUSTOMER_TABLE} WHERE id IN ({frames.id_list(ids[i:i + 50_000])})",
            [], columns=["customer_id", "external_id"],
        )
        for i in range(0, len(ids), 50_000)
    ]
    if not parts:
        return pd.Series(dtype=str)
    frame = pd.concat(parts)
    return pd.Series(frame["external_id"].astype(str).to_numpy(), index=frame["customer_id"].astype("int64"))


def live_segments() -> QuerySet[Segment]:
    return Segment.objects.filter(is_active=True).order_by("name")


def latest_order() -> Order | None:
    return Order.objects.select_related("customer").order_by("-ordered_at", "-pk").first()


def plausible_order_dates() -> tuple[dt.date, dt.date]:
    """The first and the last day, in the shop's time zone, that an order may be dated:
    IMPORT_EARLIEST_DATE and IMPORT_LATEST_DATE (tomorrow unless it is set). Imports reject
    dates outside them."""
    latest = settings.IMPORT_LATEST_DATE or timezone.localdate() + dt.timedelta(days=1)
    return settings.IMPORT_EARLIEST_DATE, latest


def segments_export(*, run: SegmentationRun | None = None) -> pd.DataFrame | None:
    """One row per customer of a run's membership (default: the latest successful run) with
    its RFM figures as of the run's date, in EXPORT_COLUMNS; None when there is no run.

    The figures are recomputed from the orders known now, up to the run's date: for the latest
    run they are exactly what it clustered on.
    """
    run = run or latest_successful_run()
    if run is None:
        return None
    membership = frames.membership_at(run)
    stats = frames.order_stats_frame(before=features.history_cutoff(run.as_of, latest_order_at()))
    frame = features.build_features(stats, as_of=run.as_of, customers=frames.customers_frame())
    segments = pd.DataFrame.from_records(
        Segment.objects.values_list("pk", "key", "name"), columns=["segment_id", "segment_key", "segment_name"]
    ).set_index("segment_id")
    external = pd.DataFrame.from_records(
        Customer.objects.values_list("pk", "external_id"), columns=["pk", "external_id"]
    ).set_index("pk")
    out = membership.join(segments, on="segment_id").join(frame).join(external)
    out = out.reset_index(drop=True).rename(columns={"external_id": "customer_id"})
    out["monetary"] = out["monetary"].round(2)
    return out.sort_values("customer_id")[EXPORT_COLUMNS]


# --- Finding customers to preview a message for (campaigns' admin) --------------------------------


def customers_search(term: str, *, phone: str | None = None, limit: int = 20) -> list[Customer]:
    """Customers a search box means, with lookups an index serves: the shop's id exactly, an
    email by its beginning (emails are stored lower-cased), a phone number given in E.164."""
    term = term.strip()
    if not term:
        return []
    query = Q(external_id=term) | Q(email__startswith=term.lower())
    if phone:
        query |= Q(phone=phone)
    return list(Customer.objects.filter(query).order_by("external_id")[:limit])


def customer_by_id(customer_id: int) -> Customer | None:
    return Customer.objects.filter(pk=customer_id).first()


def current_segment_ids(customer_ids) -> dict[int, int]:
    """customer id -> the segment each given customer is in now (customers in none are left out)."""
    rows = Membership.objects.filter(ended_run__isnull=True, customer_id__in=list(customer_ids))
    return dict(rows.values_list("customer_id", "segment_id"))


def segment_members(*, segment_id: int) -> QuerySet[Membership]:
    """The segment's current memberships with their customer and the run that put them there
    (when they joined), by customer id: for a page of members."""
    return (
        Membership.objects.filter(segment_id=segment_id, ended_run__isnull=True)
        .select_related("customer", "run")
        .only(
            "run_id", "customer__external_id", "customer__first_name", "customer__last_name", "customer__email",
            "customer__phone", "customer__email_consent", "customer__sms_consent",
            "run__finished_at", "run__started_at", "run__created_at",
        )
        .order_by("customer_id")
    )


MEMBER_EXPORT_FIELDS = {
    "external_id": "customer__external_id",
    "first_name": "customer__first_name",
    "last_name": "customer__last_name",
    "email": "customer__email",
    "phone": "customer__phone",
    "email_consent": "customer__email_consent",
    "sms_consent": "customer__sms_consent",
    "joined_run_id": "run_id",
    "last_order_at": "customer__stats__last_order_at",
    "frequency": "customer__stats__frequency",
    "monetary": "customer__stats__monetary",
}


def segment_member_export_rows(*, segment_id: int, chunk_size: int):
    """The segment's current members as dicts of MEMBER_EXPORT_FIELDS' keys, by customer id,
    read `chunk_size` rows at a time (a server-side cursor on PostgreSQL): nothing holds the
    whole segment in memory."""
    rows = (
        Membership.objects.filter(segment_id=segment_id, ended_run__isnull=True)
        .order_by("customer_id")
        .values(**{name: F(path) for name, path in MEMBER_EXPORT_FIELDS.items()})
    )
    return rows.iterator(chunk_size=chunk_size)


def customer_segment_history(*, customer_id: int, limit: int) -> list[Membership]:
    """The customer's memberships, newest first (the current one, if any, first), with their
    segment and the runs that started and ended them: by the (customer, run) index."""
    rows = (
        Membership.objects.filter(customer_id=customer_id)
        .select_related("segment", "run", "ended_run")
        .order_by("-run_id")
    )
    return list(rows[:limit])


def run_moments() -> dict[int, tuple]:
    """run id -> (finished_at, started_at, created_at) of every run: a few hundred rows at most,
    read once rather than three timestamps on each of a segment's members."""
    rows = SegmentationRun.objects.order_by().values_list("pk", "finished_at", "started_at", "created_at")
    return {pk: moments for pk, *moments in rows}


def segment_sample_member(segment_id: int) -> int | None:
    """The id of one current member of the segment (any one: the first the index finds)."""
    # No ORDER BY: .first() would sort the segment's members by id to return one of them.
    members = Membership.objects.filter(ended_run__isnull=True, segment_id=segment_id).order_by()
    return next(iter(members.values_list("customer_id", flat=True)[:1]), None)
