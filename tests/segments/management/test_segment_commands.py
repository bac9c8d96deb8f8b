"""The segment and export_segments commands: the command-line contract."""

import json
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from segments import selectors
from segments.models import Customer, SegmentationRun


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


def test_the_segment_command_tries_the_k_range_it_is_given(shop):
    out = StringIO()
    call_command("segment", "--k-min", "4", "--k-max", "6", "--json", stdout=out)

    summary = json.loads(out.getvalue())

    assert summary["status"] == "succeeded"
    assert [c["k"] for c in summary["k_candidates"] if "stability" in c] == [4, 5, 6]
    assert summary["warnings"] == []
    assert SegmentationRun.objects.get(pk=summary["run"]).params["k_max"] == 6


def test_the_segment_command_refuses_a_backwards_k_range(shop):
    with pytest.raises(CommandError, match="got --k-min 6 and --k-max 4"):
        call_command("segment", "--k-min", "6", "--k-max", "4", stdout=StringIO())


def test_the_segment_command_prints_each_k_tried_and_the_warnings(shop):
    Customer.objects.update(attributes={"complains": 0})
    out = StringIO()

    call_command("segment", "--features", "recency_days", "frequency", "monetary", "complains", stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert "  K  inertia        silhouette  stability" in text
    assert "Warning: 'complains' is 0 for every customer, so it cannot tell customers apart and was left out." in text


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
