"""What an upload must be before it is stored: CSV text, not a workbook or binary data."""

import codecs
import io
import zipfile

import pytest

from segments.importing.sniffing import upload_problem

CSV = "external_id,email,first_name\nC1,zoe@example.com,Zoë\nC2,ann@example.com,Ann\n"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("customers.csv", CSV.encode()),
        ("customers.CSV", codecs.BOM_UTF8 + CSV.encode()),
        ("customers.txt", CSV.encode("cp1252")),
        ("customers.tsv", CSV.replace(",", "\t").encode()),
        ("customers.csv", CSV.encode("utf-16")),  # Excel's "Unicode text": NULs everywhere, yet text
        ("customers.csv", (CSV * 10 + "C3,x@example.com,Zo\0e\n").encode()),  # a stray NUL: its row's problem
        ("customers.csv", "Zoë".encode()[:-1]),  # the sample cut a character in two
    ],
)
def test_csv_text_is_accepted(name, data):
    assert upload_problem(name, data) is None


def test_a_workbook_must_be_saved_as_csv_first():
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")

    by_name = upload_problem("customers.xlsx", b"")
    by_content = upload_problem("customers.csv", workbook.getvalue())
    old_excel = upload_problem("customers.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))

    assert by_name == by_content == old_excel
    assert by_name.startswith("This is a spreadsheet workbook, not a CSV file: save it as CSV first")


@pytest.mark.parametrize(("name", "shown"), [("report.pdf", "a .pdf file"), ("customers", "a file without an extension")])
def test_other_extensions_are_refused_by_name(name, shown):
    assert upload_problem(name, CSV.encode()) == (
        f"Only CSV text files can be imported (.csv, .txt or .tsv); this is {shown}."
    )


def test_binary_data_named_csv_is_refused():
    png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 40

    assert upload_problem("photo.csv", png).startswith("This file holds binary data, not text")


def test_a_file_that_is_not_in_the_chosen_encoding_is_refused_naming_it():
    assert upload_problem("customers.csv", CSV.encode("cp1252"), encoding="utf-8") == (
        "This file cannot be read as utf-8: choose another text encoding, or let us detect it."
    )
