"""generate_sample_data: a synthetic shop, written through the importers like any shop's files."""

import argparse
import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from segcampaign.csvsafe import write_csv
from segments.importing import import_customers, import_orders
from segments.management import output
from segments.sampledata import generate_shop

_MAX_ERRORS_SHOWN = 20
# More orders per customer than any shop has; the generator's time grows with it. (The
# comparison refuses NaN too.)
_MAX_ORDERS_PER_CUSTOMER = 1000
# numpy's seeds are unsigned 32-bit integers.
_MAX_SEED = 2**32 - 1


def _date(value: str) -> datetime.date:
    # argparse reports an ArgumentTypeError as a usage error; any other exception here would
    # escape as a traceback, because arguments are parsed before the command runs.
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--end-date must be YYYY-MM-DD, got {value!r}") from None


def _chunks(frame, rows):
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def _share(part, whole):
    return f"{part / whole:.0%}" if whole else "-"


class Command(BaseCommand):
    help = (
        "Generate a realistic synthetic shop (customers in behaviour groups, orders with seasonality, "
        "returns and coupons) and import it. The same --seed and --end-date always give the same shop, "
        "so running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True, help="Number of customers.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--end-date", type=_date, default=None, help="Last day with orders (default: today).")
        parser.add_argument(
            "--orders-per-customer", type=float, default=5.0, help="Average orders per customer, returns included."
        )
        parser.add_argument(
            "--output-dir", type=Path, default=None, help="Also write customers.csv and orders.csv (import format) here."
        )

    def handle(self, *args, customers, seed, end_date, orders_per_customer, output_dir, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        if not (0 < orders_per_customer <= _MAX_ORDERS_PER_CUSTOMER):
            raise CommandError(
                f"--orders-per-customer must be more than 0 and at most {_MAX_ORDERS_PER_CUSTOMER}, "
                f"got {orders_per_customer}"
            )
        if not 0 <= seed <= _MAX_SEED:
            raise CommandError(f"--seed must be a whole number from 0 to {_MAX_SEED}, got {seed}")
        end = end_date or timezone.localdate()
        shop = generate_shop(customers=customers, seed=seed, end=end, orders_per_customer=orders_per_customer)
        self._describe(shop, seed=seed, end=end)

        if output_dir is not None:
            self._write_csv(shop, output_dir)

        chunk_rows = settings.IMPORT_CHUNK_ROWS
        report = import_customers(source=_chunks(shop.customers, chunk_rows))
        self._report("Customers", report)
        report = import_orders(source=_chunks(shop.orders, chunk_rows))
        self._report("Orders", report)

    def _describe(self, shop, *, seed, end):
        c, o = shop.customers, shop.orders
        n, returns = len(c), int(o["is_return"].sum())
        self.stdout.write(
            f"Generated {n:,} customers (seed {seed}, ending {end:%Y-%m-%d}): "
            f"{len(o):,} orders of which {returns:,} returns ({_share(returns, len(o))}), "
            f"{len(o) / n:.1f} per customer"
        )
        if len(o):
            self.stdout.write(f"  orders from {o['ordered_at'].min():%Y-%m-%d} to {o['ordered_at'].max():%Y-%m-%d}")
        self.stdout.write(
            f"  with email {_share(int((c['email'] != '').sum()), n)}, with phone {_share(int((c['phone'] != '').sum()), n)}, "
            f"email consent {_share(int(c['email_consent'].sum()), n)}, SMS consent {_share(int(c['sms_consent'].sum()), n)}"
        )
        mix = shop.personas.value_counts()
        self.stdout.write("  behaviour groups: " + ", ".join(f"{name} {count:,}" for name, count in mix.items()))

    def _write_csv(self, shop, directory):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--output-dir: cannot use {directory} as a directory: {exc}") from None
        for name, frame in (("customers", shop.customers), ("orders", shop.orders)):
            # Lower-case booleans: the form every importer reads, whatever its parser.
            booleans = frame.select_dtypes("bool").columns
            frame = frame.assign(**{col: frame[col].map({True: "true", False: "false"}) for col in booleans})
            path = directory / f"{name}.csv"
            # Phone numbers start with +, which a spreadsheet would take for a formula: they are
            # written '+44..., which the importer reads back as the same number.
            write_csv(frame, path)
            self.stdout.write(f"  wrote {path} ({len(frame):,} rows)")

    def _report(self, label, report):
        self.stdout.write(output.import_counts(label, report))
        # A rejected row is a disagreement between the generator and the importer: show it.
        for line in output.rejected_rows(report, limit=_MAX_ERRORS_SHOWN):
            self.stderr.write(line)
