"""Benchmark: a campaign run on the 1,000,000-customer shop, on PostgreSQL with a Redis broker.

Prints each figure next to its baseline, measured in the same run:

1. plan and queue a run (planning, the outbox written with COPY, one send task per batch
   queued in Redis), next to one Celery task per recipient (an ORM save and a task per
   message), timed on a sample and extrapolated;
2. render rate of an HTML email and an SMS per core, next to compiling per message
   (bench/render.py, in a process of its own);
3. sending email through anymail's Postmark backend to a local stand-in of Postmark's API
   that answers each request after 20 ms, next to sending one at a time;
4. the rate achieved under a configured cap (EMAIL_RATE_LIMIT) by two real Celery worker
   processes sharing the budget through Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/campaign.py [--keep-shop]

The Redis database of --redis-url (default $BENCH_REDIS_URL, else redis://127.0.0.1:6379/15)
is the broker: the bench deletes the queues and rate budgets it leaves there.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")

STANDIN_TOKEN = "standin-server-token"


def configure(redis_url: str, standin_port: int) -> None:
    """Settings of this process and of the workers it starts, before Django reads them."""
    os.environ.update({
        "CELERY_BROKER_URL": redis_url,
        "RATE_LIMIT_REDIS_URL": redis_url,
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": STANDIN_TOKEN,
        "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{standin_port}/",
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": os.devnull,
    })


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plan_and_queue(args) -> tuple[object, float]:
    """Launch a run as campaign_run_task does; returns the run and its seconds."""
    from campaigns import services, tasks

    print("\n1. plan and queue a run")
    campaign = setup.load_campaign(channels=("email", "sms"))
    started = time.perf_counter()
    run = services.campaign_run_create(campaign=campaign, triggered_by="bench")
    run = services.campaign_run_execute(run_id=run.pk)
    planned = time.perf_counter()
    if run.status != "succeeded":
        raise SystemExit(f"the run failed: {run.error}")
    batches = tasks.sends_queue(run_id=run.pk)
    queued = time.perf_counter()
    total = queued - started
    summary = run.plan
    print(f"  {summary['customers_matched']:,} customers matched; {run.messages_planned:,} messages written "
          f"({summary['by_channel']}, {summary['holdout']:,} held out, {summary['deferred_by_quiet_hours']:,} "
          f"deferred by quiet hours); skipped {summary['skipped']}")
    for stage, seconds in (run.timings or {}).items():
        print(f"  {stage:<40} {seconds:8.2f} s")
    print(f"  {'queue ' + format(batches, ',') + ' send tasks (Redis)':<40} {queued - planned:8.2f} s")
    print(f"  {'launch total':<40} {total:8.2f} s   (goal: under 30 s)")
    setup.clear_broker(args.redis_url)

    per_message = per_recipient_seconds(run, args.baseline_sample)
    plan_seconds = (run.timings or {}).get("plan", 0.0)  # the same planner in both designs
    baseline = plan_seconds + per_message * run.messages_planned
    print(f"  one Celery task per recipient (ORM save + apply_async per message, {args.baseline_sample:,} sampled): "
          f"{per_message * 1e3:.2f} ms per message -> {baseline:,.0f} s extrapolated to {run.messages_planned:,} "
          f"({baseline / total:.0f}x slower)")
    setup.clear_broker(args.redis_url)
    return run, total


def per_recipient_seconds(run, sample: int) -> float:
    """Seconds per message of the plain design: each planned message saved with the ORM and
    given its own Celery task, in one transaction that is rolled back afterwards."""
    from django.db import transaction

    from campaigns.models import CampaignRun, Message
    from segcampaign.celery import app

    rows = list(Message.objects.filter(run=run).order_by("id").values(
        "customer_id", "segment_id", "rule_id", "variant_id", "channel", "holdout", "status", "to", "send_after",
    )[:sample])
    copy = CampaignRun.objects.create(campaign=run.campaign, triggered_by="bench-baseline")
    started = time.perf_counter()
    with transaction.atomic():
        for row in rows:
            message = Message(run=copy, **row)
            message.save()
            app.send_task("campaigns.tasks.campaign_send_message_task", kwargs={"message_id": message.pk},
                          queue="bench-per-recipient")
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    CampaignRun.objects.filter(pk=copy.pk).delete()
    return elapsed / len(rows)


def render_rates(args) -> None:
    print("\n2. render rate (bench/render.py)")
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render.py"), "--messages", str(args.render_messages),
         "--repeat", str(args.render_repeat)],
        cwd=ROOT, capture_output=True, text=True, check=True, env=setup.child_env(),
    )
    for line in out.stdout.splitlines():
        print(f"  {line}")


def make_due(run, *, email_limit: int | None = None) -> int:
    """Email of the run due now, the rest set aside: so that a measurement sends just that."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_message SET send_after = '2100-01-01' WHERE run_id = %s AND status = 'pending'",
            [run.pk],
        )
        limit = "" if email_limit is None else f"ORDER BY id LIMIT {int(email_limit)}"
        cursor.execute(
            f"UPDATE campaigns_message SET send_after = now() - interval '1 second' WHERE id IN ("
            f"SELECT id FROM campaigns_message WHERE run_id = %s AND status = 'pending' AND channel = 'email' {limit})",
            [run.pk],
        )
        return cursor.rowcount


def send_until(run, count: int, **kwargs) -> tuple[int, float, float]:
    """Send batches in this process until `count` messages went; (sent, wall s, CPU s)."""
    from campaigns import services

    sent, wall, cpu = 0, time.perf_counter(), cpu_seconds()
    while sent < count:
        outcome = services.run_batch_send(run_id=run.pk, **kwargs)
        if not outcome.claimed:
            break
        sent += outcome.sent
    return sent, time.perf_counter() - wall, cpu_seconds() - cpu


def sending(run, args) -> None:
    from django.conf import settings

    from campaigns.channels import EmailChannel

    print(f"\n3. send email through anymail's Postmark backend to a stand-in answering in "
          f"{args.latency * 1e3:.0f} ms")
    make_due(run, email_limit=args.send_messages)
    settings.CAMPAIGN_BATCH_SIZE = args.batch_size
    rates, costs = [], []
    for _ in range(args.send_repeat):
        sent, wall, cpu = send_until(run, args.send_messages // args.send_repeat)
        rates.append(sent / wall)
        costs.append(cpu / sent)
        print(f"  one process: {sent:,} emails in {wall:.1f} s, {sent / wall:,.0f}/s, {cpu / sent * 1e3:.2f} ms CPU "
              f"per email (batches of {settings.CAMPAIGN_BATCH_SIZE}, {settings.CAMPAIGN_SEND_CONCURRENCY} requests "
              f"in flight)")
    median, cost = statistics.median(rates), statistics.median(costs)
    print(f"  one process: median {median:,.0f} emails/s, {1 / cost:,.0f} emails per CPU second")
    host = host_send(run, args) if "host" not in args.skip else median
    make_due(run, email_limit=args.baseline_send)
    settings.CAMPAIGN_BATCH_SIZE = 100
    with EmailChannel(concurrency=1) as one:
        sent, wall, _ = send_until(run, args.baseline_send, email_channel=one)
    print(f"  one at a time (one process, one connection, {sent:,} emails): {sent / wall:,.0f}/s "
          f"({median / (sent / wall):.0f}x slower than one process, {host / (sent / wall):.0f}x than the host)")


def worker_send(run, args, *, emails: int, cap: float = 0) -> dict:
    """Queue send tasks for `emails` due emails of the run to two real Celery worker processes
    (solo pool, one task at a time each; EMAIL_RATE_LIMIT `cap`, 0: none) and wait until they
    are sent. Returns the emails sent, the rate between the first and the last provider
    answer, and how many tasks each worker ran."""
    import datetime as dt

    from campaigns import services, tasks
    from campaigns.models import Message

    due = make_due(run, email_limit=emails)
    setup.clear_broker(args.redis_url)
    logs = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    env = setup.child_env(EMAIL_RATE_LIMIT=f"{cap:g}", CAMPAIGN_BATCH_SIZE=str(args.batch_size))
    workers = [setup.start_worker(f"bench{n}", env=env, log=logs / f"worker{n}.log") for n in (1, 2)]
    try:
        for n in (1, 2):
            setup.wait_ready(logs / f"worker{n}.log")
        since = dt.datetime.now(dt.UTC)
        for _ in range(math.ceil(due / args.batch_size)):
            tasks.campaign_send_task.delay(run_id=run.pk)
        deadline = time.perf_counter() + (due / cap if cap else due / 50) * 2 + 60
        while time.perf_counter() < deadline:
            time.sleep(0.5)
            busy = Message.objects.filter(run=run, status__in=["claimed", "sending"]).exists()
            if not busy and not services.messages_due(run_id=run.pk):
                break
    finally:
        for worker in workers:
            setup.stop(worker)
    stamps = sorted(Message.objects.filter(run=run, status="sent", sent_at__gte=since)
                    .order_by().values_list("sent_at", flat=True))
    if len(stamps) < 2:
        raise SystemExit(f"the workers sent {len(stamps)} emails; see {logs}")
    # A slice of a batch is stamped when its last answer came: the rate between the first and
    # the last stamp counts every email but those of the first stamp.
    first = sum(1 for s in stamps if s == stamps[0])
    span = (stamps[-1] - stamps[0]).total_seconds()
    tasks_run = [(logs / f"worker{n}.log").read_text(errors="replace").count(" succeeded in ") for n in (1, 2)]
    return {"sent": len(stamps), "span": span, "rate": (len(stamps) - first) / span, "tasks": tasks_run}


def host_send(run, args) -> float:
    result = worker_send(run, args, emails=args.host_messages)
    print(f"  two worker processes (this host's 2 cores), no cap: {result['sent']:,} emails, "
          f"{result['rate']:,.0f}/s over {result['span']:.1f} s (send tasks per worker {result['tasks']}) "
          f"(goal: 1,000/s from one host)")
    return result["rate"]


def rate_cap(run, args) -> None:
    print(f"\n4. a cap of {args.cap:g} emails/s (EMAIL_RATE_LIMIT), two Celery worker processes sharing it "
          f"through Redis")
    result = worker_send(run, args, emails=int(args.cap * args.cap_seconds), cap=args.cap)
    achieved = result["rate"]
    print(f"  {result['sent']:,} emails over {result['span']:.1f} s, send tasks per worker {result['tasks']}")
    print(f"  achieved {achieved:,.1f} emails/s = {achieved / args.cap - 1:+.1%} of the cap (goal: within 5%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-shop", action="store_true", help="reuse the shop and segments of the last run")
    # --skip plan (with --keep-shop) sends what the last launch left unsent.
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--baseline-sample", type=int, default=20_000, help="messages of the per-recipient design")
    parser.add_argument("--render-messages", type=int, default=20_000)
    parser.add_argument("--render-repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the stand-in waits before answering")
    parser.add_argument("--batch-size", type=int, default=500, help="CAMPAIGN_BATCH_SIZE of the sends")
    parser.add_argument("--send-messages", type=int, default=30_000)
    parser.add_argument("--send-repeat", type=int, default=3)
    parser.add_argument("--baseline-send", type=int, default=300, help="emails sent one at a time")
    parser.add_argument("--host-messages", type=int, default=60_000, help="emails the two workers send, no cap")
    parser.add_argument("--cap", type=float, default=200.0, help="EMAIL_RATE_LIMIT of the two workers")
    parser.add_argument("--cap-seconds", type=float, default=60.0, help="how long the capped send lasts")
    parser.add_argument("--skip", nargs="*", choices=["plan", "render", "send", "host", "cap"], default=[])
    args = parser.parse_args()

    global setup
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configure(args.redis_url, port)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    import campaign_setup

    setup = campaign_setup
    if connection.vendor != "postgresql":
        raise SystemExit("bench/campaign.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.keep_shop:
        print(f"setup: kept the shop of {setup.shop_size():,} customers and its segments")
    else:
        customers, orders = setup.load_shop(args.customers, args.orders_per_customer, args.seed)
        k = setup.segment_shop()
        print(f"setup: {customers:,} customers, {orders:,} orders loaded and segmented ({k} segments) "
              f"in {time.perf_counter() - started:.0f} s")
    setup.clear_broker(args.redis_url)
    if "plan" in args.skip:
        from campaigns.models import CampaignRun

        run = CampaignRun.objects.filter(triggered_by="bench", status="succeeded").latest("pk")
        print(f"kept run {run.pk} of the last launch and its unsent messages")
    else:
        setup.reset_campaigns()
        run, _ = plan_and_queue(args)
    if "render" not in args.skip:
        render_rates(args)
    standin = setup.start_standin(port, args.latency)
    try:
        if "send" not in args.skip:
            sending(run, args)
        if "cap" not in args.skip:
            rate_cap(run, args)
    finally:
        setup.stop(standin)
        setup.clear_broker(args.redis_url)


setup = None  # bench/campaign_setup.py, imported once Django is set up


if __name__ == "__main__":
    main()
