"""Setup for bench/campaign.py, not measured: the benchmark shop, its segments, the campaign, the
Postmark stand-in and Celery workers in processes of their own.

Imported after django.setup() by bench/campaign.py.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import redis
from django.db import connection

from campaigns import services
from campaigns.models import Campaign
from segcampaign.bulk import copy_rows
from segments.models import Customer, Order, Segment
from segments import services as segment_services
from segments.sampledata import generate_shop

import render as render_bench  # bench/render.py: its 3.5 KB marketing email

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_TABLES = (
    "campaigns_message, campaigns_suppression, campaigns_campaignrun, campaigns_variant, campaigns_rule_segments, "
    "campaigns_rule, campaigns_campaign, campaigns_messagetemplate"
)


def load_shop(n_customers: int, orders_per_customer: float, seed: int) -> tuple[int, int]:
    """The synthetic shop COPYed in with its contacts and consents, as an import leaves it."""
    shop = generate_shop(
        customers=n_customers, seed=seed, end=dt.date(2026, 11, 1), orders_per_customer=orders_per_customer
    )
    customers, orders = shop.customers, shop.orders
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {CAMPAIGN_TABLES} RESTART IDENTITY CASCADE")
        cursor.execute(
            "TRUNCATE segments_membership, segments_segment, segments_segmentationrun, segments_customerstats, "
            "segments_order, segments_customer RESTART IDENTITY CASCADE"
        )
        columns = ["external_id", "email", "phone", "first_name", "last_name", "country", "time_zone", "locale",
                   "email_consent", "email_consent_source", "sms_consent", "sms_consent_source"]
        frame = customers[[*columns, "email_consent_at", "sms_consent_at"]].copy()
        frame["attributes"] = "{}"
        frame["created_at"] = frame["updated_at"] = now
        copy_rows(cursor, Customer._meta.db_table, list(frame.columns), frame)
        # Identities were restarted, so the n-th customer row has id n.
        position = pd.Series(np.arange(1, len(customers) + 1), index=customers["external_id"].to_numpy())
        for start in range(0, len(orders), 1_000_000):
            chunk = orders.iloc[start : start + 1_000_000]
            out = chunk[["external_id", "ordered_at", "amount", "quantity", "is_return", "coupon_code"]].copy()
            out["customer_id"] = position.reindex(chunk["customer_id"].to_numpy()).to_numpy(dtype=np.int64)
            out["attributes"] = "{}"
            out["created_at"] = out["updated_at"] = now
            copy_rows(cursor, Order._meta.db_table, list(out.columns), out)
        cursor.execute("ANALYZE segments_customer; ANALYZE segments_order;")
    return len(customers), len(orders)


def segment_shop() -> int:
    """A full segmentation run (k-means, K chosen); returns the number of segments."""
    run = segment_services.segmentation_run_create(triggered_by="bench")
    run = segment_services.segmentation_run_execute(run_id=run.pk)
    if run.status != "succeeded":
        raise SystemExit(f"segmentation failed: {run.error}")
    return run.k


def reset_campaigns() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {CAMPAIGN_TABLES} RESTART IDENTITY CASCADE")


def load_campaign(*, channels: tuple[str, ...]) -> Campaign:
    """Every segment gets the 3.5 KB marketing email of bench/render.py and an SMS, 10% held out,
    the frequency cap and quiet hours on: the work a real launch does."""
    keys = sorted(Segment.objects.filter(is_active=True).values_list("key", flat=True))
    templates = [
        {"name": "bench-email", "channel": "email", "subject": render_bench.SUBJECT, "html": render_bench.HTML,
         "text": ""},
        {"name": "bench-sms", "channel": "sms",
         "body": "{{ shop.name }}: hi {{ customer.first_name }}, {{ offer.discount }} off with code {{ offer.code }}"},
    ]
    rules = [
        {"segments": keys, "channel": channel, "priority": n, "variants": [{"template": f"bench-{channel}", "weight": 1}],
         "offer": {"code": "BENCH10", "discount": "10%", "expires_days": 14}}
        for n, channel in enumerate(channels, start=1)
    ]
    return services.campaign_load(data={
        "name": "Bench campaign", "holdout_percent": 10, "frequency_cap": {"messages": 2, "days": 7},
        "quiet_hours": {"start": "21:00", "end": "08:00"}, "templates": templates, "rules": rules,
    })


def shop_size() -> int:
    if not Segment.objects.filter(is_active=True).exists():
        raise SystemExit("--keep-shop: there is no segmented shop to keep; run without it first")
    return Customer.objects.count()


def child_env(**extra: str) -> dict[str, str]:
    """The bench's own environment for a child process, development settings, no .env."""
    return {**os.environ, "DEBUG": "true", "ENV_FILE": "/dev/null", **extra}


def start_standin(port: int, latency: float) -> subprocess.Popen:
    """The Postmark stand-in in a process of its own, so it takes no time from the sender's."""
    process = subprocess.Popen(
        [sys.executable, "-m", "campaigns.channels.standin", "--port", str(port), "--latency", str(latency)],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True,
    )
    process.stdout.readline()  # it prints its address once it listens
    return process


def start_worker(name: str, *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """One real Celery worker process (one task at a time)."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "segcampaign", "worker", "--concurrency", "1", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def wait_ready(log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"a Celery worker did not start; see {log}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def clear_broker(url: str) -> None:
    """Forget the tasks and rate budgets the bench left in its Redis database."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("*"):
        name = key.decode()
        if name in ("celery", "bench-per-recipient") or name.startswith(("segcampaign:rate:", "_kombu", "unacked")):
            client.delete(key)
