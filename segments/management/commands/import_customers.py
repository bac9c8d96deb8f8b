"""manage.py import_customers FILE [--map field=Column ...] [--encoding E] [--dry-run] [--json]"""

from django.core.management.base import BaseCommand, CommandError

from segments.importing import CUSTOMER_FIELDS, ImportFileError, import_customers, parse_mapping
from segments.management.output import import_failure, print_import_report


class Command(BaseCommand):
    help = (
        "Create or update customers from a CSV file, matched on their external id. Columns match the customer "
        f"fields ({', '.join(CUSTOMER_FIELDS)}) by name or a common alias (CustomerID, e-mail, mobile...); "
        "other columns are kept as customer attributes. Rejected rows are listed with their line number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file; the first line holds the column names.")
        parser.add_argument(
            "--map", action="append", default=[], metavar="FIELD=COLUMN",
            help="Read a field from a differently named column, e.g. --map external_id=Kundennummer. Repeatable.",
        )
        parser.add_argument("--encoding", help="The file's encoding (default: guessed; utf-8, utf-8-sig or cp1252).")
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")

    def handle(self, *args, file, map, encoding, dry_run, json: bool, **options):
        try:
            report = import_customers(source=file, mapping=parse_mapping(map), encoding=encoding, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(import_failure(exc)) from exc
        print_import_report(self, report, as_json=json)
