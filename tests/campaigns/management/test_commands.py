"""The campaign commands as a script calls them: load_campaign, run_campaign and export_messages.

Their names, options and JSON keys are part of the command-line contract (README).
"""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, CampaignRun, Message, MessageTemplate
from segments.models import Customer, Segment

from ..conftest import definition


def write_json(tmp_path, data) -> str:
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_load_campaign_reports_each_fault_by_its_json_path_and_writes_nothing(segmented, tmp_path):
    data = definition(segmented)
    data["rules"][0]["variants"][0]["template"] = "no-such-template"
    data["rules"][0]["segments"] = ["no-such-segment"]

    with pytest.raises(CommandError) as raised:
        call_command("load_campaign", write_json(tmp_path, data))

    message = str(raised.value)
    assert "rules[0].variants[0].template" in message and "no-such-template" in message
    assert "rules[0].segments[0]" in message and "no-such-segment" in message
    assert not Campaign.objects.exists() and not MessageTemplate.objects.exists()


def test_load_campaign_refuses_a_file_that_is_not_json(db, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("load_campaign", str(path))


def test_load_campaign_twice_updates_the_campaign_instead_of_adding_one(segmented, tmp_path, capsys):
    path = write_json(tmp_path, definition(segmented))
    call_command("load_campaign", path)
    call_command("load_campaign", write_json(tmp_path, definition(segmented, holdout_percent=20)))

    assert Campaign.objects.get().holdout_percent == 20
    assert "Loaded campaign 'Test campaign'" in capsys.readouterr().out


def test_run_campaign_dry_run_json_counts_segments_rules_variants_and_skips_and_writes_nothing(
    campaign, capsys
):
    Customer.objects.filter(external_id="C0001").update(email="")
    Customer.objects.filter(external_id="C0002").update(email_consent=False)

    call_command("run_campaign", campaign.name, "--dry-run", "--json")

    result = json.loads(capsys.readouterr().out)
    plan = result["plan"]
    assert result["dry_run"] is True and result["campaign"] == "Test campaign"
    assert plan["customers_matched"] == 60 and plan["messages"] == 58
    # Every reason is listed, with its count (zero included), so a script need not guess the keys.
    assert plan["skipped"] == {"no_address": 1, "no_consent": 1, "unsubscribed": 0, "frequency_cap": 0}
    names = set(Segment.objects.filter(is_active=True).values_list("name", flat=True))
    assert set(plan["by_segment"]) == names
    assert sum(s["messages"] for s in plan["by_segment"].values()) == 58
    assert plan["by_rule"] == {"rule 1": 58} and plan["by_variant"] == {"hello-email": 58}
    assert not CampaignRun.objects.exists() and not Message.objects.exists()


def test_run_campaign_launches_and_sends_each_message_once(
    campaign, capsys, mailoutbox, django_capture_on_commit_callbacks
):
    # The run is queued when the command's transaction commits (eager here: no broker); inside
    # a test's transaction that happens when the block ends, after the command has printed.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_campaign", campaign.name, "--json")

    result = json.loads(capsys.readouterr().out)
    assert result["dry_run"] is False and result["run"] == CampaignRun.objects.get().pk
    assert len(mailoutbox) == 60 and Message.objects.filter(status="sent").count() == 60
    assert CampaignRun.objects.get().status == "succeeded"


def test_run_campaign_says_a_run_left_to_the_workers_is_queued(campaign, capsys):
    # Nothing runs it here (no commit): as with a broker, the workers have not planned it yet.
    call_command("run_campaign", campaign.name)

    out = capsys.readouterr().out
    run = CampaignRun.objects.get()
    assert f"Run {run.pk} (queued) of campaign 'Test campaign': queued; the workers plan and send it" in out


def test_run_campaign_names_a_campaign_that_does_not_exist(db):
    with pytest.raises(CommandError, match="no campaign named 'Nope'"):
        call_command("run_campaign", "Nope", "--dry-run")


def test_export_messages_writes_one_row_per_message_with_formula_like_names_shown_as_text(
    campaign, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_campaign", campaign.name)
    segment = Segment.objects.filter(is_active=True).order_by("key").first()
    segment.name = '=HYPERLINK("https://evil.test","x")'
    segment.save()
    output = tmp_path / "messages.csv"

    call_command("export_messages", "--campaign", campaign.name, "--output", str(output))

    with output.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "message_id", "customer_id", "segment", "rule", "variant", "channel", "status", "holdout"
    ]
    assert len(rows) == 60 and {row["status"] for row in rows} == {"sent"}
    assert {row["variant"] for row in rows} == {"hello-email"}
    renamed = [row for row in rows if "HYPERLINK" in row["segment"]]
    assert renamed and all(row["segment"].startswith("'=") for row in renamed)
