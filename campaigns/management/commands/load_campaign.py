"""manage.py load_campaign FILE.json: create or update templates, a campaign and its rules."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from campaigns import services


class Command(BaseCommand):
    help = (
        "Create or update (by name) a campaign, its templates and its rules from a JSON file (format: README, "
        "'Campaigns as JSON'). Every fault is reported with its JSON path, and a file with any fault writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from None
        try:
            campaign = services.campaign_load(data=data)
        except services.DefinitionError as exc:
            raise CommandError(f"{file} was not loaded:\n  " + "\n  ".join(exc.problems)) from None
        rules = campaign.rules.count()
        self.stdout.write(
            f"Loaded campaign {campaign.name!r} ({campaign.get_status_display().lower()}): {rules} rule(s)"
        )
