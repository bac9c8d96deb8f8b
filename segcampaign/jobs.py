"""The one lifecycle of long work: CSV import jobs, segmentation runs, campaign runs.

A piece of long work is a row (a model built on `Job`) that moves queued -> running ->
succeeded or failed, the same way whatever the work is:

- **Claimed once.** `job_claim` marks the row running with one conditional UPDATE, so of two
  workers handed the same task (a redelivered message, a retry, a second worker) one gets it
  and the other moves on.
- **A heartbeat while it runs.** Inside `job_running(...)` a thread stamps `heartbeat_at` every
  JOB_HEARTBEAT_SECONDS and writes the progress (stage and percent) from a database connection
  of its own, so the admin sees progress at once even while the work sits in one long
  transaction, and a job whose worker died stops beating.
- **Finished or failed with a reason** a person can act on (`job_finish`, `job_fail`).
- **Stale by its heartbeat, never by its age.** A running job that has not beaten for
  JOB_STALE_AFTER_SECONDS lost its worker: it is failed (`jobs_fail_stale`), or, for work that
  can safely start again, taken over by its task's next claim (`job_claim(reclaim_stale=True)`)
  or put back in the queue (`jobs_requeue_stale`). A genuinely long job keeps beating and is
  never mistaken for a dead one.

`job_enqueue` hands a job to Celery when the transaction that created it commits, and fails the
job with the reason when the broker refuses it, so nothing stays "queued" forever unseen.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


UNFINISHED = (Status.QUEUED, Status.RUNNING)


class Job(models.Model):
    """What every piece of long work records about its own progress (an abstract base)."""

    Status = Status

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=32, blank=True, default="", help_text="The step in flight (a key).")
    percent = models.PositiveSmallIntegerField(default=0, help_text="How much of the work is done, 0 to 100.")
    error = models.TextField(blank=True, default="", help_text="Why the work failed, in words a person can act on.")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker started it; more than one means a worker died and it was started again."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from the worker running it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    def is_stale(self, *, now: dt.datetime | None = None) -> bool:
        """Running, but its worker has not shown a sign of life for JOB_STALE_AFTER_SECONDS."""
        if self.status != Status.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        return last is None or last < stale_before(now)

    def stale_in(self, *, now: dt.datetime | None = None) -> float:
        """Seconds until this running job is stale if its worker beats no more (0 when it is, or is not running)."""
        last = self.heartbeat_at or self.started_at
        if self.status != Status.RUNNING or last is None:
            return 0.0
        return max(0.0, (last - stale_before(now)).total_seconds())


J = TypeVar("J", bound=Job)


def stale_before(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)


def _stale(now: dt.datetime) -> Q:
    cutoff = stale_before(now)
    return Q(status=Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True)
    )


def job_claim(model: type[J], *, pk: int, reclaim_stale: bool = False) -> J | None:
    """Mark a queued job running and return it; None when another worker has it or it is over.

    With `reclaim_stale`, a job left running by a worker that died is taken over too (only for
    work that is safe to start again). One conditional UPDATE decides, whichever worker or
    machine asks: the claim-and-move-on pattern, not a lock held while working.
    """
    now = timezone.now()
    claimable = Q(status=Status.QUEUED)
    if reclaim_stale:
        claimable |= _stale(now)
    claimed = model.objects.filter(claimable, pk=pk).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1,
        stage="", percent=0, error="",
    )
    return model.objects.get(pk=pk) if claimed else None


def jobs_fail_stale(model: type[Job], *, now: dt.datetime | None = None) -> int:
    """Fail the running jobs whose worker stopped beating; returns how many."""
    now = now or timezone.now()
    return model.objects.filter(_stale(now)).update(
        status=Status.FAILED,
        finished_at=now,
        error=(
            f"the worker running it stopped: no sign of life for {settings.JOB_STALE_AFTER_SECONDS} seconds "
            "(it was killed, ran out of memory or lost its database connection); start it again"
        ),
    )


def jobs_requeue_stale(model: type[J], *, max_attempts: int) -> list[J]:
    """Hand the stale jobs of work that is safe to start again back to the queue; returns them.

    The caller sends each one its task again, whose claim takes it. A job already started
    `max_attempts` times is failed instead: work that kills its worker every time (out of
    memory, say) must not go round for ever.
    """
    now = timezone.now()
    model.objects.filter(_stale(now), attempts__gte=max_attempts).update(
        status=Status.FAILED,
        finished_at=now,
        error=(
            f"its worker stopped {max_attempts} times before it finished (killed, out of memory or the time "
            "limit): it is not started again"
        ),
    )
    stale = list(model.objects.filter(_stale(now)).values_list("pk", flat=True))
    model.objects.filter(_stale(now), pk__in=stale).update(status=Status.QUEUED, stage="", percent=0)
    return list(model.objects.filter(pk__in=stale, status=Status.QUEUED))


def job_release(job: Job) -> bool:
    """Put a running job back in the queue for a retry of its task to claim; False when it is not ours any more.

    Only the claim that is running it (same attempt) releases it: a job another worker took
    over meanwhile stays with that worker.
    """
    released = type(job).objects.filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts).update(
        status=Status.QUEUED
    )
    if released:
        job.status = Status.QUEUED
    return bool(released)


def jobs_fail_unstarted(model: type[Job], *, created_before: dt.datetime, error: str) -> int:
    """Fail the jobs still queued that were created before `created_before` (no worker took them); how many."""
    return model.objects.filter(status=Status.QUEUED, created_at__lt=created_before).update(
        status=Status.FAILED, finished_at=timezone.now(), error=error
    )


def job_finish(job: Job, **fields) -> None:
    """Record success (and any result fields) on the job and on the instance."""
    _end(job, status=Status.SUCCEEDED, error="", percent=100, **fields)


def job_fail(job: Job, *, error: str, **fields) -> None:
    _end(job, status=Status.FAILED, error=error, **fields)


def _end(job: Job, **fields) -> None:
    fields["finished_at"] = timezone.now()
    for name, value in fields.items():
        setattr(job, name, value)
    # Only an unfinished job ends: a job failed meanwhile (by an operator, or as stale) keeps
    # the reason it was given.
    type(job).objects.filter(pk=job.pk, status__in=UNFINISHED).update(**fields)


def job_fail_by_hand(job: Job, *, who: str) -> bool:
    """An operator ends a stuck job from admin; False when it had finished meanwhile."""
    now = timezone.now()
    updated = type(job).objects.filter(pk=job.pk, status__in=UNFINISHED).update(
        status=Status.FAILED, finished_at=now, error=f"failed by hand by {who} at {now:%Y-%m-%d %H:%M} UTC"
    )
    return bool(updated)


# --- Progress and heartbeat -------------------------------------------------------------------


class Progress:
    """What the work reports while it runs: the stage in flight, percent done, other counters.

    `stage(key, percent)` also times the stages: `timings` holds seconds per stage key.
    Listeners (the `segment` command prints progress) are called with (stage key, percent).
    """

    def __init__(self, write: Callable[[dict], None], listener: Callable[[str, int], None] | None = None):
        self._write = write
        self._listener = listener
        self.timings: dict[str, float] = {}
        self._stage: str | None = None
        self._stage_started = time.perf_counter()

    def stage(self, key: str, *, percent: int) -> None:
        """Close the stage in flight (its time is recorded) and start the next one."""
        now = time.perf_counter()
        if self._stage is not None:
            self.timings[self._stage] = round(self.timings.get(self._stage, 0.0) + now - self._stage_started, 3)
        self._stage, self._stage_started = key, now
        self._write({"stage": key, "percent": percent})
        if self._listener:
            self._listener(key, percent)

    def update(self, **fields) -> None:
        """Progress counters of the job's own (rows processed, messages sent...)."""
        self._write(fields)

    def close(self) -> dict[str, float]:
        """End the stage in flight; returns the timings with their total."""
        if self._stage is not None:
            self.timings[self._stage] = round(
                self.timings.get(self._stage, 0.0) + time.perf_counter() - self._stage_started, 3
            )
            self._stage = None
        return {**self.timings, "total": round(sum(self.timings.values()), 3)}


class _Heartbeat(threading.Thread):
    """Stamps heartbeat_at and writes pending progress from a connection of its own.

    Its connection commits at once, whatever transaction the work holds open. On SQLite a beat
    waits for the work's write transaction like any writer (the busy timeout), and a beat that
    times out is simply missed.
    """

    # How long reporting progress may wait for the write (a stalled beat must not stall the work).
    WRITE_WAIT_SECONDS = 5.0

    def __init__(self, model: type[Job], pk: int, *, wait: bool):
        super().__init__(name=f"heartbeat-{model._meta.model_name}-{pk}", daemon=True)
        self.model, self.pk, self.wait = model, pk, wait
        self.pending: dict = {}
        self.lock = threading.Condition()
        self.written = 0  # beats written so far
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def push(self, fields: dict) -> None:
        """Hand progress to the thread; on PostgreSQL, return once it is committed, so what the
        work reports is what the admin shows (one short UPDATE on another connection)."""
        with self.lock:
            self.pending.update(fields)
            target = self.written + 1
        self.wake.set()
        if self.wait:
            with self.lock:
                self.lock.wait_for(lambda: self.written >= target, timeout=self.WRITE_WAIT_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.join()

    def run(self) -> None:
        try:
            while True:
                self.wake.wait(settings.JOB_HEARTBEAT_SECONDS)
                self.wake.clear()
                self._beat()
                if self.stopping.is_set():
                    return
        finally:
            connection.close()  # this thread's own connection

    def _beat(self) -> None:
        with self.lock:
            fields, self.pending = self.pending, {}
        try:
            self.model.objects.filter(pk=self.pk, status=Status.RUNNING).update(
                heartbeat_at=timezone.now(), **fields
            )
        except DatabaseError:
            # A missed beat is harmless; JOB_STALE_AFTER_SECONDS spans several of them. The
            # progress goes out with the next one.
            logger.warning("heartbeat of %s %s failed", self.model.__name__, self.pk, exc_info=True)
            with self.lock:
                self.pending = {**fields, **self.pending}
        with self.lock:
            self.written += 1
            self.lock.notify_all()


@contextmanager
def job_running(job: Job, *, listener: Callable[[str, int], None] | None = None) -> Iterator[Progress]:
    """Heartbeat and progress reporting for the duration of the work on a claimed job."""
    if not _in_memory_database():
        # On SQLite the work may hold the database's one write lock while it reports progress:
        # waiting for the beat there would only wait out the busy timeout.
        beat = _Heartbeat(type(job), job.pk, wait=connection.vendor == "postgresql")
        beat.start()
        write = beat.push
    else:
        beat = None

        def write(fields: dict) -> None:
            type(job).objects.filter(pk=job.pk, status=Status.RUNNING).update(heartbeat_at=timezone.now(), **fields)

    def record(fields: dict) -> None:
        for name, value in fields.items():
            setattr(job, name, value)
        write(fields)

    try:
        yield Progress(record, listener)
    finally:
        if beat is not None:
            beat.stop()


def _in_memory_database() -> bool:
    # The test suite's SQLite database lives in memory with a shared cache, where a second
    # connection's write fails the other's at once (no busy timeout): there the work writes its
    # own progress, and nothing else could die unnoticed anyway.
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


# --- Queueing ---------------------------------------------------------------------------------


def job_enqueue(job: Job, task, **kwargs) -> None:
    """Send `task` (with `kwargs`) once the current transaction commits.

    A broker that refuses the message fails the job with the reason, instead of leaving it
    queued forever. (With no broker configured, Celery runs the task eagerly right there.)
    """
    transaction.on_commit(partial(_send, job, task, kwargs))


def _send(job: Job, task, kwargs: dict) -> None:
    try:
        task.delay(**kwargs)
    except (BrokerError, OSError) as exc:  # Celery wraps most connection errors; some transports do not
        logger.exception("could not queue %s %s", type(job).__name__, job.pk)
        type(job).objects.filter(pk=job.pk, status=Status.QUEUED).update(
            status=Status.FAILED, error=f"could not reach the task queue: {exc}", finished_at=timezone.now()
        )
