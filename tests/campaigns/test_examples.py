"""The README's campaign file loads as documented (it is part of the command-line contract)."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from segments.models import Segment

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "winback.json"


@pytest.mark.django_db
def test_the_readme_example_loads(capsys):
    for key, name in (("champions", "Champions"), ("at-risk", "At risk"), ("hibernating", "Hibernating")):
        Segment.objects.create(key=key, name=name, algorithm="kmeans")

    call_command("load_campaign", str(EXAMPLE))

    campaign = Campaign.objects.get(name=json.loads(EXAMPLE.read_text())["name"])
    assert campaign.status == "scheduled" and campaign.rules.count() == 2
    assert "Loaded campaign 'Winback November'" in capsys.readouterr().out


def test_the_readme_shows_the_example_file_as_it_is():
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    assert EXAMPLE.read_text().rstrip() in readme
