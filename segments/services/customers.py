"""Customers whose data changed, for the next segmentation run to look at again."""

from collections.abc import Iterable

from django.db import connection, transaction

from segments.changes import changes_stamp
from segments.models import Customer


def customers_mark_changed(*, customer_ids: Iterable[int | None]) -> int:
    """Stamp the customers' updated_at: the next run re-aggregates their order stats.

    Every change to an order (made in admin, or a customer's own edit) goes through here; bulk
    imports do the same inside their upsert statement (segcampaign.bulk's `touch`), where a
    second statement per chunk would cost a scan. The stamp is taken under the changes lock
    (segments.changes), so a segmentation run refreshing meanwhile cannot miss it.
    """
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        stamp = changes_stamp(cursor)
        return Customer.objects.filter(pk__in=ids).update(updated_at=stamp.now)
