"""manage.py export_segments: one CSV row per customer with its segment and RFM figures.

Text that a spreadsheet would run as a formula (a customer id or segment name starting with =)
is written with a leading single quote (segcampaign/csvsafe.py).
"""

from django.core.management.base import BaseCommand, CommandError

from segcampaign.csvsafe import write_csv

from segments import selectors
from segments.models import SegmentationRun


class Command(BaseCommand):
    help = "Export customer segments of a run (default: the live one) to CSV."

    def add_arguments(self, parser):
        parser.add_argument("--run", type=int, default=None, help="run id (default: the live run)")
        parser.add_argument("--output", required=True, help="CSV file to write")

    def handle(self, *args, **options):
        run = None
        if options["run"] is not None:
            try:
                run = SegmentationRun.objects.get(pk=options["run"])
            except SegmentationRun.DoesNotExist:
                raise CommandError(f"there is no segmentation run {options['run']}") from None
            if run.status != SegmentationRun.Status.SUCCEEDED:
                raise CommandError(f"run {run.pk} did not succeed ({run.status}): nothing to export")
            if run.is_draft:
                # A draft placed nobody: the membership "as of" it would be another run's.
                raise CommandError(f"run {run.pk} is a draft, never made live: its segments have no members to export")
        frame = selectors.segments_export(run=run)
        if frame is None:
            raise CommandError("no successful segmentation run yet: run `manage.py segment` first")
        try:
            write_csv(frame, options["output"])
        except OSError as exc:
            raise CommandError(f"--output: cannot write {options['output']}: {exc}") from None
        self.stdout.write(f"Wrote {len(frame):,} customers to {options['output']}")
