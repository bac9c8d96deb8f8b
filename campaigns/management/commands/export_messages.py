"""manage.py export_messages --campaign NAME --output FILE.csv: one row per message of a campaign."""

from django.core.management.base import BaseCommand, CommandError

from campaigns import selectors
from segcampaign.csvsafe import write_csv
from campaigns.models import Campaign


class Command(BaseCommand):
    help = "Export every message of a campaign (all runs): message_id, customer_id, segment, rule, variant, channel, " \
           "status, holdout."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="The campaign's name.")
        parser.add_argument("--output", required=True, help="CSV file to write.")

    def handle(self, *args, campaign, output, **options):
        found = Campaign.objects.filter(name=campaign).first()
        if found is None:
            raise CommandError(f"there is no campaign named {campaign!r}")
        frame = selectors.messages_export(campaign=found)
        # Segment names are typed by marketers: formula-like text must reach a spreadsheet as text.
        write_csv(frame, output)
        self.stdout.write(f"Wrote {len(frame):,} messages to {output}")
