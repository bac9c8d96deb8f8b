"""The outbox: written in bulk when a run is launched, claimed by workers in batches.

A message's status only moves forward, each move a conditional UPDATE, so two workers never
hold one message: pending -> claimed -> sending -> sent | failed (| pending again after a
temporary error, with a later send_after). A claim whose worker never came back is claimed
again (the provider was never called for it); a message left `sending` becomes `unknown`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import CampaignRun, Message
from campaigns.planning import Plan
from segcampaign.bulk import copy_rows
from segcampaign.rowupdates import update_rows

TABLE = Message._meta.db_table
CONTENT = ("subject", "html", "text", "body", "links")  # what a rendering stores on its message
Status = Message.Status


def outbox_write(*, run: CampaignRun, plan: Plan) -> int:
    """One row per planned (customer, channel), holdout rows included; nothing when the run's
    outbox was written already (a launch that is retried creates nothing new)."""
    if Message.objects.filter(run=run).exists():
        return 0
    messages = plan.messages
    now = timezone.now()
    rows = pd.DataFrame(
        {
            "run_id": run.pk,
            "customer_id": messages["customer_id"].to_numpy(dtype=np.int64),
            "segment_id": messages["segment_id"].to_numpy(dtype=np.int64),
            "rule_id": messages["rule_id"].to_numpy(dtype=np.int64),
            "variant_id": messages["variant_id"].to_numpy(dtype=np.int64),
            "channel": messages["channel"].astype(str).to_numpy(),
            "holdout": messages["holdout"].to_numpy(dtype=bool),
            "status": np.where(messages["holdout"].to_numpy(dtype=bool), Status.HOLDOUT, Status.PENDING),
            "to": messages["to"].astype(str).to_numpy(),
            "send_after": messages["send_after"].to_numpy(),
            "attempts": 0,
            "created_at": now,
        }
    )
    for column in ("subject", "html", "text", "body", "provider_id", "error"):
        rows[column] = ""
    rows["links"] = "[]"
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor, TABLE, list(rows.columns), rows)
    return len(rows)


def messages_claim(*, run_id: int, limit: int, now: dt.datetime | None = None) -> tuple[list[int], dt.datetime]:
    """Claim up to `limit` due messages of a run; returns their ids and the claim's instant
    (the token the claimant proves itself with when it moves them on)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS)
    due = (
        "run_id = %s AND ((status = 'pending' AND send_after <= %s) OR (status = 'claimed' AND claimed_at < %s))"
    )
    params = [run_id, now, stale]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # SKIP LOCKED: a second worker takes the next batch instead of waiting for this one.
            cursor.execute(
                f"UPDATE {TABLE} SET status = 'claimed', claimed_at = %s WHERE id IN ("
                f"SELECT id FROM {TABLE} WHERE {due} ORDER BY send_after, id LIMIT %s FOR UPDATE SKIP LOCKED"
                f") RETURNING id",
                [now, *params, limit],
            )
        else:
            # SQLite runs one writer at a time: the condition is re-checked by the UPDATE itself.
            db_now, db_stale = (connection.ops.adapt_datetimefield_value(v) for v in (now, stale))
            cursor.execute(
                f"UPDATE {TABLE} SET status = 'claimed', claimed_at = %s WHERE id IN ("
                f"SELECT id FROM {TABLE} WHERE {due} ORDER BY send_after, id LIMIT %s) AND ({due}) RETURNING id",
                [connection.ops.adapt_datetimefield_value(now), run_id, db_now, db_stale, limit, run_id, db_now, db_stale],
            )
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids, now


def messages_start_sending(
    *, ids: list[int], claimed_at: dt.datetime, content: Mapping[int, Sequence] | None = None
) -> list[int]:
    """Move claimed messages to `sending`, right before the provider is called; returns the ids
    that were still this claim's (a claim taken over after a timeout is not ours any more).

    `content` (id -> subject, html, text, body, links) is stored by the same statement, so a
    message is `sending` exactly when its rendering is on its row: one query for a slice.
    """
    if not ids:
        return []
    columns = list(CONTENT) if content else []
    rows = [(pk, *content[pk]) for pk in ids] if content else [(pk,) for pk in ids]
    when = connection.ops.adapt_datetimefield_value(claimed_at) if connection.vendor == "sqlite" else claimed_at
    return update_rows(
        Message, columns, rows,
        extra_set="status = 'sending', attempts = attempts + 1",
        condition="status = 'claimed' AND claimed_at = %s", condition_params=[when],
    )


def messages_release(*, ids: list[int], claimed_at: dt.datetime) -> int:
    """Give claimed messages back (a paused campaign): pending again, as if never claimed."""
    return Message.objects.filter(pk__in=ids, status=Status.CLAIMED, claimed_at=claimed_at).update(
        status=Status.PENDING, claimed_at=None
    )


def messages_mark_unknown(*, now: dt.datetime | None = None) -> int:
    """Messages left `sending` by a worker that stopped: the provider may or may not have them.
    Surfaced for review, never resent blindly."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS)
    return Message.objects.filter(status=Status.SENDING, claimed_at__lt=stale).update(
        status=Status.UNKNOWN,
        error="the worker stopped while the provider was being called: check the provider's log before resending",
    )


def messages_due(*, run_id: int, now: dt.datetime | None = None) -> int:
    """Messages of a run a worker could claim now."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS)
    return Message.objects.filter(_due(now, stale), run_id=run_id).count()


def messages_unfinished(*, run_id: int) -> int:
    """Messages of a run not sent, failed or set aside yet (pending, claimed or sending)."""
    return Message.objects.filter(
        run_id=run_id, status__in=[Status.PENDING, Status.CLAIMED, Status.SENDING]
    ).count()


def _due(now: dt.datetime, stale: dt.datetime) -> Q:
    return Q(status=Status.PENDING, send_after__lte=now) | Q(status=Status.CLAIMED, claimed_at__lt=stale)
