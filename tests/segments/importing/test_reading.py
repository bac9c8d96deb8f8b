"""Reading a source into chunks: encodings, separators, file objects, typed DataFrames, and
Arrow's reader giving the same chunks as pandas'."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from segments.importing import ImportFileError, import_customers, import_orders
from segments.importing.reading import open_source
from segments.models import Customer, Order

from .conftest import UTC, write

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "encoding, expected",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")],
)
def test_it_reads_utf8_utf8_with_bom_and_windows_1252(tmp_path, encoding, expected):
    path = write(tmp_path, "customer_id,first_name,city\n1,Zoë,Café\n", encoding=encoding)

    report = import_customers(source=path)

    assert report.encoding == expected
    customer = Customer.objects.get()
    assert (customer.external_id, customer.first_name, customer.attributes) == ("1", "Zoë", {"city": "Café"})


def test_an_explicit_encoding_overrides_the_guess(tmp_path):
    # "CafÃ©" saved as cp1252 is also valid UTF-8 (for "Café"): only the caller knows which.
    path = write(tmp_path, "customer_id,first_name\n1,CafÃ©\n", encoding="cp1252")

    import_customers(source=path)
    assert Customer.objects.get().first_name == "Café"

    report = import_customers(source=path, encoding="cp1252")
    assert report.encoding == "cp1252"
    assert Customer.objects.get().first_name == "CafÃ©"


def test_a_wrong_explicit_encoding_is_a_clear_error(tmp_path):
    path = write(tmp_path, "customer_id,first_name\n1,Zoë\n", encoding="cp1252")

    with pytest.raises(ImportFileError, match="not valid utf-8 text"):
        import_customers(source=path, encoding="utf-8")


def test_a_binary_file_object_and_a_semicolon_separated_file_import(tmp_path):
    stream = io.BytesIO("customer_id;first_name\n1;Zoë\n".encode("cp1252"))

    report = import_customers(source=stream)

    assert report.encoding == "cp1252"
    assert Customer.objects.get().first_name == "Zoë"


def test_typed_frames_import_like_their_csv(settings):
    settings.IMPORT_CHUNK_ROWS = 2
    customers = pd.DataFrame(
        {
            "external_id": pd.array(["a", "b", "c"], dtype="str"),
            "email": pd.array(["A@x.io", "", "c@x.io"], dtype="str"),
            "email_consent": np.array([True, False, True]),
            "email_consent_at": pd.to_datetime(["2024-01-01T10:00", None, "2024-01-02T10:00"], utc=True),
            "complains": np.array([0, 3, 1], dtype=np.int64),
            "score": np.array([1.0, 2.5, np.nan]),
        }
    )
    orders = pd.DataFrame(
        {
            "external_id": ["o1", "o2"],
            "customer_id": ["a", "z"],
            "ordered_at": pd.to_datetime(["2024-02-01T12:00", "2024-02-02T12:00"], utc=True),
            "amount": np.array([10.0, -2.5]),
            "quantity": np.array([1, 1], dtype=np.int64),
            "is_return": np.array([False, True]),
        }
    )

    customer_report = import_customers(source=[customers.iloc[:2], customers.iloc[2:]])
    order_report = import_orders(source=iter([orders]))

    assert (customer_report.created, customer_report.rejected) == (3, 0)
    a = Customer.objects.get(external_id="a")
    assert (a.email, a.email_consent, a.email_consent_at) == ("a@x.io", True, dt.datetime(2024, 1, 1, 10, tzinfo=UTC))
    assert a.attributes == {"complains": 0, "score": 1}
    assert Customer.objects.get(external_id="c").attributes == {"complains": 1}
    assert Customer.objects.get(external_id="b").email_consent_at is None
    assert (order_report.created, order_report.customers_created) == (2, 1)
    assert Order.objects.get(external_id="o2").is_return is True


def _chunks_or_error(source):
    opened = open_source(source, encoding=None, chunk_rows=40_000)
    frames = []
    try:
        for chunk in opened.chunks:
            frames.append(chunk)
    except ImportFileError as exc:
        return frames, str(exc)
    finally:
        opened.close()
    return frames, None


@pytest.mark.parametrize("tail", [
    "",  # Arrow reads the whole file
    "X,1\n\nY,2,2024-01-02,1\n",  # a short row and a blank line after Arrow's first block: pandas takes over
    "Z,1,2024-01-01,1,extra\n",  # a row too long: pandas reports it, after the chunks before it
])
def test_a_file_reads_into_the_same_chunks_from_a_path_as_from_a_stream(tmp_path, tail):
    body = "".join(f"O{i},C{i % 97},2024-01-01 10:00,{i}.5\n" for i in range(150_000))  # 5 MB
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n" + body + tail)

    from_path, path_error = _chunks_or_error(path)
    from_stream, stream_error = _chunks_or_error(io.BytesIO(path.read_bytes()))

    assert path_error == stream_error and (path_error is None) == (tail != "Z,1,2024-01-01,1,extra\n")
    assert len(from_path) == len(from_stream) >= 3
    for ours, pandas_own in zip(from_path, from_stream):
        pd.testing.assert_frame_equal(ours, pandas_own, check_exact=True)


def test_a_nul_in_the_header_refuses_the_file_naming_the_column(tmp_path):
    path = write(tmp_path, "customer_id,first_name,no\x00te\n1,Ann,x\n")

    with pytest.raises(ImportFileError, match=r'Column 3 of the header, "no\\x00te", contains a NUL character'):
        import_customers(source=path)
    with pytest.raises(ImportFileError, match="Column 2 of the header"):
        import_customers(source=pd.DataFrame({"customer_id": ["1"], "a\x00": ["x"]}))
    assert not Customer.objects.exists()


def test_a_utf8_file_with_a_windows_1252_line_is_read_with_a_warning_naming_that_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("customer_id,first_name\n1,Zoë\n2,Ann\n".encode() + "3,Zoë\n".encode("cp1252")
                     + "4,Åsa\n".encode())

    report = import_customers(source=path)

    assert report.encoding == "cp1252" and report.created == 4
    assert [(w.line, w.column, w.value) for w in report.warnings] == [(4, "", "3,Zoë")]
    assert report.warnings[0].reason.startswith("not UTF-8, unlike other lines of the file: the whole file was "
                                                "read as Windows-1252 (cp1252)")
    assert str(report.warnings[0]).startswith('line 4: not UTF-8')


@pytest.mark.parametrize("text", [
    "customer_id,first_name\n1,Zoë\n",  # Windows-1252 throughout: nothing to warn of
    "customer_id,first_name\n1,Zoe\n2,Ren\xe9e\n",
])
def test_a_file_of_windows_1252_throughout_is_read_without_a_warning(tmp_path, text):
    path = write(tmp_path, text, encoding="cp1252")

    report = import_customers(source=path)

    assert report.encoding == "cp1252" and report.warnings == []


def test_a_utf8_character_after_the_first_windows_1252_line_is_found_too(tmp_path, settings):
    path = tmp_path / "mixed.csv"
    path.write_bytes("customer_id,first_name\n1,Zoë\n".encode("cp1252") + b"2,Ann\n" * 300_000
                     + "3,Zoë\n".encode())  # more than one block of the scan after the bad byte

    report = import_customers(source=path, dry_run=True)

    assert [(w.line, w.column) for w in report.warnings] == [(2, "")]


@pytest.mark.parametrize("header", ["customer_id,email,email", "customer_id,email, email"])
def test_a_column_named_twice_refuses_the_file_naming_it(tmp_path, header):
    path = write(tmp_path, f"{header}\n1,a@example.com,b@example.com\n")

    with pytest.raises(ImportFileError, match='The header names the column "email" twice [(]columns 2 and 3[)]'):
        import_customers(source=path)
    assert not Customer.objects.exists()


def test_a_column_named_email_1_is_not_a_duplicate_and_empty_names_are_not_either(tmp_path):
    path = write(tmp_path, "customer_id,email,email.1,,\n1,a@example.com,b,,\n")

    import_customers(source=path)

    assert Customer.objects.get().attributes == {"email.1": "b"}


@pytest.mark.parametrize("header", ['"Name; Surname",customer_id', '"Last; First; Title",customer_id'])
def test_separators_inside_quoted_names_do_not_count(tmp_path, header):
    path = write(tmp_path, f'{header}\n"A; B",7\n')

    import_customers(source=path)

    customer = Customer.objects.get()
    assert customer.external_id == "7" and list(customer.attributes.values()) == ["A; B"]
