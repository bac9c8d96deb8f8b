"""generate_sample_data refuses what it cannot generate with a message, never a traceback.

(What it generates and imports is tested in tests/segments/test_sampledata.py.)
"""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class

from segments.models import Customer, Order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "options, message",
    [
        (["--seed", "-5"], "--seed must be a whole number from 0 to 4294967295, got -5"),
        (["--orders-per-customer", "1001"], "--orders-per-customer must be more than 0 and at most 1000, got 1001.0"),
        (["--orders-per-customer", "nan"], "--orders-per-customer must be more than 0 and at most 1000, got nan"),
        (["--orders-per-customer", "inf"], "--orders-per-customer must be more than 0 and at most 1000, got inf"),
    ],
)
def test_it_names_the_option_it_refuses_and_imports_nothing(options, message):
    with pytest.raises(CommandError) as refused:
        call_command("generate_sample_data", "--customers", "3", *options, stdout=StringIO())

    assert message in str(refused.value)
    assert not Customer.objects.exists()


def test_an_unreadable_end_date_is_a_usage_error_on_the_command_line(capsys):
    # Arguments are parsed before the command runs, outside its CommandError handling.
    command = load_command_class("segments", "generate_sample_data")

    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "generate_sample_data", "--customers", "3", "--end-date", "2025-13-01"])

    assert exited.value.code == 2
    assert "argument --end-date: --end-date must be YYYY-MM-DD, got '2025-13-01'" in capsys.readouterr().err


def test_an_output_dir_that_is_a_file_is_a_clear_error(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a directory")

    with pytest.raises(CommandError, match=f"--output-dir: cannot use {taken} as a directory"):
        call_command("generate_sample_data", "--customers", "3", "--output-dir", str(taken), stdout=StringIO())


def test_the_files_it_writes_show_phone_numbers_as_text_and_import_back_unchanged(tmp_path):
    args = ["generate_sample_data", "--customers", "200", "--seed", "3", "--end-date", "2025-06-30"]
    call_command(*args, "--output-dir", str(tmp_path), stdout=StringIO())
    phones = dict(Customer.objects.exclude(phone="").values_list("external_id", "phone"))

    with (tmp_path / "customers.csv").open(newline="") as file:
        written = {row["external_id"]: row["phone"] for row in csv.DictReader(file) if row["phone"]}
    with (tmp_path / "orders.csv").open(newline="") as file:
        amounts = [row["amount"] for row in csv.DictReader(file)]
    Customer.objects.update(phone="")
    imported = StringIO()
    call_command("import_customers", str(tmp_path / "customers.csv"), stdout=imported)

    # A phone number starts with +, which a spreadsheet would run as a formula.
    assert phones and written == {external_id: "'" + phone for external_id, phone in phones.items()}
    # Refunds are numbers: negative, unquoted.
    assert any(amount.startswith("-") for amount in amounts) and Order.objects.filter(amount__lt=0).exists()
    assert "0 rows rejected" in imported.getvalue()
    assert dict(Customer.objects.exclude(phone="").values_list("external_id", "phone")) == phones
