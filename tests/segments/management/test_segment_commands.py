"""The segment and export_segments commands: the command-line contract."""

import json
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from segments import selectors
from segments.models import SegmentationRun


pytestmark = pytest.mark.django_db


def test_the_segment_command_prints_json(shop):
    out = StringIO()
    call_command("segment", "--k", "3", "--json", stdout=out)

    summary = json.loads(out.getvalue())

    assert summary["status"] == "succeeded"
    assert summary["k"] == 3
    assert len(summary["segments"]) == 3
    assert sum(s["size"] for s in summary["segments"]) == 60


def test_the_segment_command_rejects_bad_options(shop):
    with pytest.raises(CommandError, match="--k must be"):
        call_command("segment", "--k", "many")
    with pytest.raises(CommandError, match="failed: .*nope"):
        call_command("segment", "--features", "nope", stdout=StringIO())


def test_export_segments_writes_the_contract_columns(shop, tmp_path):
    call_command("segment", "--k", "3", stdout=StringIO(), stderr=StringIO())
    output = tmp_path / "segments.csv"

    call_command("export_segments", "--output", str(output), stdout=StringIO())

    frame = pd.read_csv(output, dtype={"rfm_code": str})
    assert list(frame.columns) == selectors.EXPORT_COLUMNS
    assert len(frame) == 60
    vip = frame.set_index("customer_id").loc["C0001"]
    assert vip["frequency"] >= 12 and vip["r_score"] >= 4
    assert len(vip["rfm_code"]) == 3


def test_export_of_an_unknown_run_is_a_clear_error(shop, tmp_path):
    with pytest.raises(CommandError, match="no segmentation run 999"):
        call_command("export_segments", "--run", "999", "--output", str(tmp_path / "x.csv"))


def test_a_segment_command_refused_while_a_run_is_running_leaves_no_queued_run(shop):
    holder = SegmentationRun.objects.create(status="running", started_at=timezone.now(), heartbeat_at=timezone.now())

    with pytest.raises(CommandError, match=f"run {holder.pk} is still running"):
        call_command("segment", "--k", "3")

    refused = SegmentationRun.objects.exclude(pk=holder.pk).get()
    assert not SegmentationRun.objects.filter(status="queued").exists()
    assert refused.status == "failed" and refused.finished_at is not None
    assert refused.error == f"not started: run {holder.pk} is still running; two segmentations never overlap"
