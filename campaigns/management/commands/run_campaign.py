"""manage.py run_campaign NAME [--dry-run] [--json]: plan (and launch) one run of a campaign."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns import selectors, services, tasks
from campaigns.models import Campaign


class Command(BaseCommand):
    help = (
        "Plan one run of a campaign: who gets which template on which channel, and every reason to skip a "
        "customer. Without --dry-run the run is launched: its outbox is written and its messages queued and sent "
        "(by workers, or in this process when no broker is configured)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The campaign's name.")
        parser.add_argument("--dry-run", action="store_true", help="Plan and print the counts; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the plan (and the run) as JSON.")

    def handle(self, *args, name, dry_run, json: bool, **options):
        campaign = Campaign.objects.filter(name=name).first()
        if campaign is None:
            raise CommandError(f"there is no campaign named {name!r}: load one with load_campaign")
        try:
            if dry_run:
                summary = services.plan_summary(services.campaign_plan(campaign=campaign))
                return self._print({"campaign": campaign.name, "dry_run": True, "plan": summary}, json)
            with transaction.atomic():
                run = tasks.campaign_run_queue(campaign=campaign, triggered_by="command")
        except services.CampaignError as exc:
            raise CommandError(str(exc)) from None
        run.refresh_from_db()
        if run.status == run.Status.FAILED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
        result = {"campaign": campaign.name, "dry_run": False, "run": run.pk, "status": run.status,
                  "plan": run.plan, "messages": selectors.run_message_counts(run_id=run.pk)}
        return self._print(result, json)

    def _print(self, result: dict, as_json: bool) -> None:
        if as_json:
            result = {**result, "plan": {k: v for k, v in result["plan"].items() if k not in ("rfm_edges",)}}
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        for line in selectors.plan_lines(result):
            self.stdout.write(line)
