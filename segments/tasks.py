"""Celery entry points for segmentation: fetch by id, call one service, own the retries."""

from celery import shared_task
from django.utils import timezone

from . import services
from .models import SegmentationRun


@shared_task(bind=True, max_retries=30, default_retry_delay=60, acks_late=True)
def segmentation_run_task(self, *, run_id: int) -> str:
    """Run a queued segmentation; wait (by retrying) while another run holds the lock."""
    try:
        run = services.segmentation_run_execute(run_id=run_id)
    except services.RunInProgress as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            _give_up(run_id, str(exc))
            return "skipped"
        raise self.retry(exc=exc) from None
    return run.status


@shared_task(acks_late=True)
def scheduled_segmentation_task(
    *, algorithm: str = "kmeans", k: int | None = None, features: list[str] | None = None, incremental: bool = False
) -> str:
    """What Celery beat runs (set up in admin: Periodic tasks). Skips, recorded, if a run is in progress."""
    run = services.segmentation_run_create(
        algorithm=algorithm, k=k, features_=features or (), incremental=incremental, triggered_by="schedule"
    )
    try:
        run = services.segmentation_run_execute(run_id=run.pk)
    except services.RunInProgress as exc:
        _give_up(run.pk, str(exc))
        return "skipped"
    return run.status


def _give_up(run_id: int, reason: str) -> None:
    SegmentationRun.objects.filter(pk=run_id, status=SegmentationRun.Status.QUEUED).update(
        status=SegmentationRun.Status.FAILED, error=f"not started: {reason}", finished_at=timezone.now()
    )
