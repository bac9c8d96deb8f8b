"""manage.py import_customers / import_orders: arguments, printed report, --json, errors."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from segments.models import Customer, Order

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent.parent / "fixtures"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_customers_prints_the_counts_and_the_rejected_rows():
    output = run("import_customers", str(FIXTURES / "customers.csv"))

    assert "8 rows read (utf-8): 6 customers created, 0 updated, 0 unchanged, 2 rows rejected, 0 skipped" in output
    assert 'line 8, column "customer_id": duplicate customer id: already on line 2 (value: "C001")' in output
    warnings = output[output.index("Warnings (rows imported; an invalid optional field was left empty):"):]
    assert 'line 4, column "email": not a valid email address (value: "not-an-email")' in warnings
    assert Customer.objects.count() == 6


def test_a_second_run_reports_everything_unchanged():
    run("import_customers", str(FIXTURES / "simple_segmentation.csv"))

    output = run("import_customers", str(FIXTURES / "simple_segmentation.csv"))

    assert "0 customers created, 0 updated, 4 unchanged, 0 rows rejected" in output


def test_it_prints_twenty_rejected_rows_and_counts_the_rest(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,email\n" + "".join(f",a{i}@example.com\n" for i in range(25)))

    output = run("import_customers", str(path))

    assert output.count("missing customer id") == 20
    assert "... and 5 more" in output


def test_it_prints_twenty_warnings_and_counts_the_rest(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,email\n" + "".join(f"{i},nope{i}\n" for i in range(25)))

    output = run("import_customers", str(path))

    assert "25 customers created, 0 updated, 0 unchanged, 0 rows rejected" in output
    assert output.count("not a valid email address") == 20
    assert output.index("Warnings (rows imported; an invalid optional field was left empty):") < output.index(
        'line 2, column "email": not a valid email address (value: "nope0")')
    assert "... and 5 more" in output


def test_json_prints_the_whole_report():
    output = run("import_customers", str(FIXTURES / "customers.csv"), "--json")

    report = json.loads(output)
    assert (report["rows"], report["created"], report["rejected"]) == (8, 6, 2)
    assert len(report["errors"]) == 2 and len(report["warnings"]) == 5 and report["warnings_omitted"] == 0
    assert report["warnings"][0] == {"line": 4, "column": "email", "value": "not-an-email",
                                     "reason": "not a valid email address"}
    assert report["errors"][0] == {"line": 7, "column": "customer_id", "value": "", "reason": "missing customer id"}
    assert report["encoding"] == "utf-8" and report["dry_run"] is False


def test_map_and_encoding_options_reach_the_import(tmp_path):
    path = tmp_path / "kunden.csv"
    path.write_bytes("Kundennummer;Vorname\n7;CafÃ©\n".encode("cp1252"))

    run("import_customers", str(path), "--map", "external_id=Kundennummer", "--map", "first_name=Vorname",
        "--encoding", "cp1252")

    assert Customer.objects.get(external_id="7").first_name == "CafÃ©"


def test_dry_run_says_so_and_writes_nothing():
    output = run("import_orders", str(FIXTURES / "orders.csv"), "--dry-run")

    assert "3 orders created" in output
    assert "Dry run: nothing was written." in output
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_a_missing_column_is_a_command_error_naming_the_columns(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order,who\n1,2\n")

    with pytest.raises(CommandError) as caught:
        run("import_orders", str(path))

    assert "no column for customer_id" in str(caught.value)
    assert "The file's columns are: order, who" in str(caught.value)


def test_a_mapping_to_a_missing_column_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="amount=Total.*The file's columns are: order_id, customer_id"):
        run("import_orders", str(FIXTURES / "orders.csv"), "--map", "amount=Total")


def test_a_malformed_mapping_is_a_command_error():
    with pytest.raises(CommandError, match="field=Column"):
        run("import_orders", str(FIXTURES / "orders.csv"), "--map", "amount")


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot open"):
        run("import_customers", str(tmp_path / "nope.csv"))


def test_import_orders_reads_online_retail_and_reports_skipped_lines():
    output = run("import_orders", str(FIXTURES / "online_retail.csv"), "--format", "online-retail")

    assert "10 rows read (utf-8): 5 orders created" in output
    assert "2 lines had no customer id and were skipped" in output
    assert "4 customers created for orders" in output
    assert Order.objects.get(external_id="536370").attributes == {"lines": 2}


def test_import_orders_takes_a_date_format(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\nA,1,03.04.2024,5\n")

    output = run("import_orders", str(path), "--date-format", "%d.%m.%Y", "--json")

    assert json.loads(output)["created"] == 1
    assert Order.objects.get().ordered_at.month == 4
