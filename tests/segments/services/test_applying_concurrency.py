"""Two drafts made live at the same moment: one goes live, the other is refused as out of date."""

import threading

import pytest
from django.db import connection

from segments import services
from segments.models import SegmentationRun
from segments.services import applying

from ..conftest import Worker, make_shop, run, until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def waiting_on_an_advisory_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def test_a_draft_made_live_while_another_goes_live_waits_and_is_then_refused(monkeypatch):
    make_shop()
    run(k=3)
    first = run(k=2, go_live=SegmentationRun.GoLive.NEVER)
    second = run(k=4, go_live=SegmentationRun.GoLive.NEVER)
    writing, release = threading.Event(), threading.Event()
    real_write = applying.membership_write

    def write_then_hold_the_transaction_open(**options):
        result = real_write(**options)
        if options["run"].pk == first.pk:
            writing.set()
            release.wait(60)
        return result

    monkeypatch.setattr(applying, "membership_write", write_then_hold_the_transaction_open)
    making_first_live = Worker(lambda: services.segmentation_run_make_live(run_id=first.pk, by="alice"))
    making_first_live.start()
    assert writing.wait(30)
    making_second_live = Worker(lambda: services.segmentation_run_make_live(run_id=second.pk, by="bob"))
    making_second_live.start()
    until(lambda: not making_second_live.is_alive() or waiting_on_an_advisory_lock())
    release.set()

    assert making_first_live.join_result()[1] is True
    with pytest.raises(services.SegmentationError, match=f"Run {first.pk} went live after this run started"):
        making_second_live.join_result()
    assert list(SegmentationRun.objects.filter(is_draft=False, pk__in=[first.pk, second.pk])) == [first]
