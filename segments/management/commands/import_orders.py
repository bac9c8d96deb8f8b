"""manage.py import_orders FILE [--format online-retail] [--map field=Column ...] [--date-format F]
[--encoding E] [--dry-run] [--json]"""

from django.core.management.base import BaseCommand, CommandError

from segments.importing import FORMATS, ORDER_FIELDS, ImportFileError, import_orders, parse_mapping
from segments.management.output import import_failure, print_import_report


class Command(BaseCommand):
    help = (
        "Create or update orders from a CSV file, matched on the order id, creating customers not seen before. "
        f"Columns match the order fields ({', '.join(ORDER_FIELDS)}) by name or a common alias; other columns are "
        "kept as order attributes. --format online-retail reads invoice lines (InvoiceNo, StockCode, Description, "
        "Quantity, InvoiceDate, UnitPrice, CustomerID, Country) into one order per invoice."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file; the first line holds the column names.")
        parser.add_argument(
            "--format", default="default", choices=FORMATS, help="The file's shape (default: one row per order)."
        )
        parser.add_argument(
            "--map", action="append", default=[], metavar="FIELD=COLUMN",
            help="Read a field from a differently named column, e.g. --map ordered_at=Bestelldatum. Repeatable.",
        )
        parser.add_argument(
            "--date-format", metavar="FORMAT",
            help="strftime format of the dates, e.g. %%d/%%m/%%Y %%H:%%M (default: ISO 8601, else inferred). "
            "Dates without a time zone are in the TIME_ZONE setting.",
        )
        parser.add_argument("--encoding", help="The file's encoding (default: guessed; utf-8, utf-8-sig or cp1252).")
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")

    def handle(self, *args, file, format, map, date_format, encoding, dry_run, json: bool, **options):
        try:
            report = import_orders(
                source=file, format=format, mapping=parse_mapping(map), date_format=date_format, encoding=encoding,
                dry_run=dry_run,
            )
        except ImportFileError as exc:
            raise CommandError(import_failure(exc)) from exc
        print_import_report(self, report, as_json=json)
