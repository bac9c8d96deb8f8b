"""import_customers / import_orders as a whole: dry runs, chunk after chunk with progress,
and a file that breaks part way."""

import pytest

from segments.importing import ImportFileError, import_customers, import_orders
from segments.models import Customer, Order

from .conftest import FIXTURES, errors_of, write

pytestmark = pytest.mark.django_db


def test_a_dry_run_reports_everything_and_writes_nothing():
    report = import_customers(source=FIXTURES / "customers.csv", dry_run=True)

    assert report.dry_run is True
    assert (report.created, report.rejected, len(report.errors), len(report.warnings)) == (6, 2, 2, 5)
    assert not Customer.objects.exists()


def test_a_file_larger_than_a_chunk_imports_every_chunk_and_finds_duplicates_across_them(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 3
    lines = [f"O{i},C{i % 4},2024-01-{i + 1:02d},{i}.5" for i in range(10)] + ["O2,C9,2024-02-01,1"]
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n" + "\n".join(lines) + "\n\n")
    seen = []

    report = import_orders(source=path, on_rows=seen.append)

    assert (report.rows, report.created, report.rejected) == (11, 10, 1)
    assert errors_of(report) == [(12, "order_id", "duplicate order id: already on line 4")]
    assert seen == [3, 6, 9, 11]
    assert Order.objects.count() == 10 and Customer.objects.count() == 4


def test_a_malformed_line_later_in_the_file_stops_the_import_but_keeps_the_chunks_done(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    path = write(tmp_path, "customer_id,first_name\n1,A\n2,B\n3,C\n4,D,extra,cells\n")

    with pytest.raises(ImportFileError, match="not valid CSV.*line 5") as caught:
        import_customers(source=path)

    assert caught.value.report.rows == 2
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"1", "2"}
