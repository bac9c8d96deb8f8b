"""The import services, end to end: file in, rows in the database, report out.

Runs on SQLite and, with DATABASE_URL pointing at PostgreSQL, on its COPY path; the tests
marked `postgres` only make sense there.
"""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from segments.importing import ImportFileError, import_customers, import_orders
from segments.models import Customer, Order

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.timezone.utc


def errors_of(report):
    return [(e.line, e.column, e.reason) for e in report.errors]


def write(tmp_path, text, name="file.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- Customers --------------------------------------------------------------------------


def test_it_imports_customers_with_normalised_contact_data():
    report = import_customers(source=FIXTURES / "customers.csv")

    assert (report.rows, report.created, report.updated, report.unchanged) == (8, 2, 0, 0)
    ana = Customer.objects.get(external_id="C001")
    assert ana.email == "ana.silva@example.com"
    assert ana.phone == "+447911123456"
    assert (ana.first_name, ana.last_name, ana.country) == ("Ana", "Silva", "United Kingdom")
    assert ana.time_zone == "Europe/London"
    assert ana.email_consent is True and ana.sms_consent is False
    assert ana.email_consent_at == dt.datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    bob = Customer.objects.get(external_id="C002")
    assert bob.phone == "+33612345678"
    assert bob.email_consent is True and bob.sms_consent is True
    assert bob.email_consent_at == dt.datetime(2024, 3, 2, 7, 0, tzinfo=UTC)
    assert bob.attributes == {"vip_level": 1.5}
    assert ana.attributes == {"vip_level": 2}


def test_it_reports_each_bad_customer_row_with_its_line_and_column():
    report = import_customers(source=FIXTURES / "customers.csv")

    assert report.rejected == 6
    assert errors_of(report) == [
        (4, "email", "not a valid email address"),
        (5, "phone", "not a valid phone number (numbers without +country code are read as GB)"),
        (6, "time_zone", "not a time zone name (e.g. Europe/London)"),
        (6, "email_consent", "not one of yes/no, true/false, y/n, 1/0"),
        (7, "customer_id", "missing customer id"),
        (8, "customer_id", "duplicate customer id: already on line 2"),
        (9, "email_consent_at", "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"),
    ]
    assert report.errors[0].value == "not-an-email"
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C001", "C002"}


def test_it_keeps_extra_columns_as_numbers_so_the_simple_shape_can_be_clustered():
    report = import_customers(source=FIXTURES / "simple_segmentation.csv")

    assert report.created == 4
    attributes = dict(Customer.objects.values_list("external_id", "attributes"))
    assert attributes["1"] == {"products_purchased": 12, "complains": 0, "money_spent": 480.5}
    assert attributes["2"] == {"products_purchased": 3, "complains": 1, "money_spent": 60}
    assert isinstance(attributes["2"]["money_spent"], int)
    assert attributes["3"]["money_spent"] == 2103.75


def test_text_that_only_looks_like_a_number_stays_text(tmp_path):
    path = write(tmp_path, 'id,zip,note\n1,01234,"say ""hi""\\ok"\n2,-7,1e3\n')

    import_customers(source=path)

    attributes = dict(Customer.objects.values_list("external_id", "attributes"))
    assert attributes["1"] == {"zip": "01234", "note": 'say "hi"\\ok'}
    assert attributes["2"] == {"zip": -7, "note": 1000}


def test_reimporting_the_same_customers_file_changes_nothing():
    import_customers(source=FIXTURES / "customers.csv")
    before = dict(Customer.objects.values_list("external_id", "updated_at"))

    report = import_customers(source=FIXTURES / "customers.csv")

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 2, 6)
    assert dict(Customer.objects.values_list("external_id", "updated_at")) == before


def test_a_reimport_updates_only_the_columns_the_file_has_and_merges_attributes(tmp_path):
    import_customers(source=FIXTURES / "customers.csv")
    ana = Customer.objects.get(external_id="C001")
    ana.attributes = {**ana.attributes, "kept": "yes"}
    ana.save()
    touched_before = Customer.objects.get(external_id="C001").updated_at
    path = write(tmp_path, "customer_id,first_name,vip_level,new_key\nC001,Anna,3,x\nC002,Bob,1.5,\n")

    report = import_customers(source=path)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    ana = Customer.objects.get(external_id="C001")
    assert ana.first_name == "Anna"
    assert ana.phone == "+447911123456" and ana.email == "ana.silva@example.com"  # no such columns: kept
    assert ana.attributes == {"vip_level": 3, "kept": "yes", "new_key": "x"}
    assert ana.updated_at > touched_before
    assert Customer.objects.get(external_id="C002").attributes == {"vip_level": 1.5}


def test_an_empty_cell_of_a_column_the_file_has_does_blank_the_field(tmp_path):
    import_customers(source=FIXTURES / "customers.csv")

    import_customers(source=write(tmp_path, "customer_id,phone\nC001,\n"))

    assert Customer.objects.get(external_id="C001").phone == ""


def test_new_and_changed_customers_get_a_fresh_updated_at(tmp_path):
    started = timezone.now()
    import_customers(source=FIXTURES / "simple_segmentation.csv")
    assert all(c.updated_at >= started for c in Customer.objects.all())
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))

    import_customers(source=write(tmp_path, "customer_id,complains\n1,0\n2,5\n"))

    recent = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert recent == {"2"}


def test_columns_are_matched_by_alias_or_by_the_mapping(tmp_path):
    path = write(tmp_path, "CustomerID,E-Mail Address,Mobile,Vorname\n17850.0,A@B.CO,07911 123456,Zoë\n")

    report = import_customers(source=path, mapping={"first_name": "vorname"})

    assert report.created == 1
    customer = Customer.objects.get()
    assert (customer.external_id, customer.email, customer.phone, customer.first_name) == (
        "17850", "a@b.co", "+447911123456", "Zoë"
    )
    assert customer.attributes == {}


def test_a_mapping_naming_a_column_the_file_lacks_names_it_and_lists_the_columns():
    with pytest.raises(ImportFileError) as caught:
        import_customers(source=FIXTURES / "simple_segmentation.csv", mapping={"email": "Mail"})

    message = str(caught.value)
    assert "email=Mail" in message
    assert "customer_id, products_purchased, complains, money_spent" in message


def test_a_file_without_a_customer_id_column_is_refused(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        import_customers(source=write(tmp_path, "name,email\nA,a@b.co\n"))

    assert "no column for external_id" in str(caught.value)
    assert "name, email" in str(caught.value)
    assert not Customer.objects.exists()


def test_an_unknown_field_in_the_mapping_is_refused():
    with pytest.raises(ImportFileError, match="Unknown field.*mobile_phone"):
        import_customers(source=FIXTURES / "customers.csv", mapping={"mobile_phone": "phone"})


def test_a_dry_run_reports_everything_and_writes_nothing():
    report = import_customers(source=FIXTURES / "customers.csv", dry_run=True)

    assert report.dry_run is True
    assert (report.created, report.rejected, len(report.errors)) == (2, 6, 7)
    assert not Customer.objects.exists()


# --- Encodings --------------------------------------------------------------------------


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


# --- Orders -----------------------------------------------------------------------------


def test_it_imports_orders_and_creates_the_customers_it_does_not_know():
    report = import_orders(source=FIXTURES / "orders.csv")

    assert (report.rows, report.created, report.rejected, report.customers_created) == (8, 3, 5, 2)
    first = Order.objects.get(external_id="O-1")
    assert first.customer.external_id == "C001"
    assert first.ordered_at == dt.datetime(2024, 3, 31, 14, 5, tzinfo=UTC)
    assert (first.amount, first.quantity, first.is_return) == (Decimal("59.90"), 2, False)
    assert first.coupon_code == "SPRING10"
    assert first.attributes == {"channel": "web"}
    refund = Order.objects.get(external_id="O-2")
    assert refund.ordered_at == dt.datetime(2024, 4, 2, 8, 0, tzinfo=UTC)
    assert (refund.amount, refund.is_return) == (Decimal("-19.95"), True)
    stranger = Customer.objects.get(external_id="C777")
    assert (stranger.email, stranger.phone, stranger.email_consent, stranger.sms_consent) == ("", "", False, False)
    assert stranger.orders.get().ordered_at == dt.datetime(2024, 4, 3, tzinfo=UTC)


def test_it_reports_each_bad_order_row_with_its_line_and_column():
    report = import_orders(source=FIXTURES / "orders.csv")

    assert errors_of(report) == [
        (5, "ordered_at", "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"),
        (6, "amount", "not a number (expected e.g. 1234.50)"),
        (7, "order_id", "duplicate order id: already on line 2"),
        (8, "customer_id", "missing customer id"),
        (9, "amount", "missing amount"),
    ]
    assert set(Order.objects.values_list("external_id", flat=True)) == {"O-1", "O-2", "O-3"}


def test_naive_dates_are_in_the_shops_time_zone_and_stored_in_utc(tmp_path, settings):
    settings.TIME_ZONE = "Europe/London"
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount\n"
        "A,1,2024-07-01 10:00,1\nB,1,2024-01-15 10:00,1\nC,1,2024-07-01T10:00:00Z,1\nD,1,2024-07-01 10:00+02:00,1\n",
    )

    import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored == {
        "A": dt.datetime(2024, 7, 1, 9, 0, tzinfo=UTC),  # BST
        "B": dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC),  # GMT
        "C": dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC),
        "D": dt.datetime(2024, 7, 1, 8, 0, tzinfo=UTC),
    }


def test_a_date_format_reads_day_first_dates_and_rejects_others(tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nA,1,03/04/2024 10:00,1\nB,1,2024-04-03,1\n")

    report = import_orders(source=path, date_format="%d/%m/%Y %H:%M")

    assert Order.objects.get().ordered_at == dt.datetime(2024, 4, 3, 10, 0, tzinfo=UTC)
    assert errors_of(report) == [(3, "ordered_at", "not a date in the format %d/%m/%Y %H:%M")]


def test_without_a_date_format_a_non_iso_format_is_inferred_once_for_the_file(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 1
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nA,1,12/1/2010 8:26,1\nB,1,1/12/2010 8:26,1\n")

    import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored == {
        "A": dt.datetime(2010, 12, 1, 8, 26, tzinfo=UTC),  # month first, as the first date showed
        "B": dt.datetime(2010, 1, 12, 8, 26, tzinfo=UTC),
    }


def test_the_amount_is_quantity_times_unit_price_when_the_file_has_no_amount():
    import_orders(source=FIXTURES / "orders_without_ids.csv")

    amounts = sorted(Order.objects.values_list("amount", "quantity"))
    assert amounts == [(Decimal("9.00"), 2), (Decimal("9.00"), 2), (Decimal("19.99"), 1)]


def test_rows_without_an_order_id_get_ids_that_survive_a_reimport():
    first = import_orders(source=FIXTURES / "orders_without_ids.csv")
    ids = set(Order.objects.values_list("external_id", flat=True))

    again = import_orders(source=FIXTURES / "orders_without_ids.csv")

    assert first.created == 3  # the two identical rows are two orders
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert set(Order.objects.values_list("external_id", flat=True)) == ids
    assert len(ids) == 3 and all(i.startswith("row-") for i in ids)


def test_reimporting_orders_reports_them_unchanged_and_leaves_customers_alone():
    import_orders(source=FIXTURES / "orders.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))

    report = import_orders(source=FIXTURES / "orders.csv")

    assert (report.created, report.updated, report.unchanged, report.customers_created) == (0, 0, 3, 0)
    assert set(Customer.objects.values_list("updated_at", flat=True)) == {dt.datetime(2020, 1, 1, tzinfo=UTC)}


def test_a_changed_order_is_updated_and_bumps_its_customers(tmp_path):
    import_orders(source=FIXTURES / "orders.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    started = timezone.now()
    # O-1 gets a new amount; O-3 moves from C777 to C001: both customers changed.
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\nO-1,C001,2024-03-31 14:05,61.00\n"
                           "O-3,C001,2024-04-03,12.00\n")

    report = import_orders(source=path)

    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert Order.objects.get(external_id="O-1").amount == Decimal("61.00")
    assert Order.objects.get(external_id="O-1").coupon_code == "SPRING10"  # not in this file: kept
    bumped = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert bumped == {"C001", "C777"}


def test_new_orders_bump_their_existing_customers(tmp_path):
    import_customers(source=FIXTURES / "simple_segmentation.csv")
    Customer.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    started = timezone.now()

    import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nX,2,2024-01-01,5\n"))

    bumped = set(Customer.objects.filter(updated_at__gte=started).values_list("external_id", flat=True))
    assert bumped == {"2"}


def test_a_file_larger_than_a_chunk_imports_every_chunk_and_finds_duplicates_across_them(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 3
    lines = [f"O{i},C{i % 4},2024-01-{i + 1:02d},{i}.5" for i in range(10)] + ["O2,C9,2024-02-01,1"]
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n" + "\n".join(lines) + "\n\n")
    seen = []

    report = import_orders(source=path, progress=seen.append)

    assert (report.rows, report.created, report.rejected) == (11, 10, 1)
    assert errors_of(report) == [(12, "order_id", "duplicate order id: already on line 4")]
    assert seen == [3, 6, 9, 11]
    assert Order.objects.count() == 10 and Customer.objects.count() == 4


def test_a_missing_required_order_column_is_refused(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        import_orders(source=write(tmp_path, "order_id,customer_id,quantity\nA,1,2\n"))

    message = str(caught.value)
    assert "ordered_at" in message and "amount or quantity and unit_price" in message
    assert "order_id, customer_id, quantity" in message


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


# --- Online retail ----------------------------------------------------------------------


def test_online_retail_lines_become_one_order_per_invoice():
    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.rows, report.created, report.skipped, report.rejected, report.customers_created) == (10, 5, 2, 0, 4)
    invoice = Order.objects.get(external_id="536365")
    assert invoice.customer.external_id == "17850"
    assert (invoice.amount, invoice.quantity, invoice.is_return) == (Decimal("57.64"), 20, False)
    assert invoice.attributes == {"lines": 3}
    assert invoice.ordered_at == dt.datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert Order.objects.get(external_id="536366").customer_id == invoice.customer_id
    cancelled = Order.objects.get(external_id="C536379")
    assert (cancelled.amount, cancelled.quantity, cancelled.is_return) == (Decimal("-27.50"), -1, True)
    assert Order.objects.get(external_id="536370").amount == Decimal("180.00")
    assert Customer.objects.get(external_id="12583").country == "France"
    assert not Order.objects.filter(external_id="536368").exists()


def test_reimporting_online_retail_changes_nothing():
    import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.created, report.updated, report.unchanged, report.skipped) == (0, 0, 5, 2)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4])
def test_an_invoice_straddling_a_chunk_border_is_still_one_order(settings, chunk_rows):
    settings.IMPORT_CHUNK_ROWS = chunk_rows

    report = import_orders(source=FIXTURES / "online_retail.csv", format="online-retail")

    assert (report.rows, report.created, report.skipped, report.rejected) == (10, 5, 2, 0)
    assert Order.objects.get(external_id="536365").amount == Decimal("57.64")
    assert Order.objects.get(external_id="536365").attributes == {"lines": 3}


def test_an_invoice_that_comes_back_after_other_invoices_is_rejected(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    text = (FIXTURES / "online_retail.csv").read_text()
    text += "536365,22752,SET 7 BABUSHKA NESTING BOXES,2,12/1/2010 8:26,7.65,17850,United Kingdom\n"

    report = import_orders(source=write(tmp_path, text), format="online-retail")

    assert errors_of(report) == [
        (12, "InvoiceNo", "invoice appears again after other invoices (first on line 2); "
                          "the lines of one invoice must be next to each other"),
    ]
    assert Order.objects.get(external_id="536365").amount == Decimal("57.64")


def test_an_invoice_with_a_bad_line_is_rejected_whole(tmp_path):
    text = (FIXTURES / "online_retail.csv").read_text().replace("6,12/1/2010 8:26,3.39", "six,12/1/2010 8:26,3.39")

    report = import_orders(source=write(tmp_path, text), format="online-retail")

    assert errors_of(report) == [
        (2, "InvoiceNo", "another line of this invoice was rejected (line 3)"),
        (3, "Quantity", "not a whole number"),
        (4, "InvoiceNo", "another line of this invoice was rejected (line 3)"),
    ]
    assert report.created == 4
    assert not Order.objects.filter(external_id="536365").exists()


def test_a_malformed_line_later_in_the_file_stops_the_import_but_keeps_the_chunks_done(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    path = write(tmp_path, "customer_id,first_name\n1,A\n2,B\n3,C\n4,D,extra,cells\n")

    with pytest.raises(ImportFileError, match="not valid CSV.*line 5") as caught:
        import_customers(source=path)

    assert caught.value.report.rows == 2
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"1", "2"}


# --- Preparing fast paths: the same result as the general path ------------------------------


def test_cells_padded_with_tabs_no_break_spaces_or_carriage_returns_are_stripped(tmp_path):
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount,coupon_code\n"
        '\tA,C1\xa0,2024-01-01 , 12 ,"SPRING\r"\n'
        "B,C2,2024-01-02,3.5,in side\n",
    )

    report = import_orders(source=path)

    assert (report.created, report.rejected) == (2, 0)
    stored = {o.external_id: (o.customer.external_id, o.amount, o.coupon_code)
              for o in Order.objects.select_related("customer")}
    assert stored == {"A": ("C1", Decimal("12.00"), "SPRING"), "B": ("C2", Decimal("3.50"), "in side")}


@pytest.mark.parametrize("amounts, expected", [
    (["12", "3.25", "-19.95", "007.50"], ["12.00", "3.25", "-19.95", "7.50"]),  # plain: Arrow parses them
    (["1e3", "-0", "12345678.123456789", "+5"], ["1000.00", "0.00", "12345678.12", "5.00"]),  # pandas does
])
def test_amounts_read_the_same_in_plain_and_other_spellings(tmp_path, amounts, expected):
    rows = "".join(f"O{i},C1,2024-01-01,{amount}\n" for i, amount in enumerate(amounts))
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n" + rows + 'X,C1,2024-01-01,"1,5"\n')

    report = import_orders(source=path)

    assert errors_of(report) == [(len(amounts) + 2, "amount", "not a number (expected e.g. 1234.50)")]
    stored = dict(Order.objects.values_list("external_id", "amount"))
    assert stored == {f"O{i}": Decimal(amount) for i, amount in enumerate(expected)}


@pytest.mark.parametrize("others", [
    "",  # every date plain and valid: Arrow reads the column
    "D,1,2024-02-30,1\nE,1,2024-07-01T10:00:00-04:00,1\n",  # one invalid, one with an offset: pandas does
])
def test_plain_local_dates_read_the_same_whoever_parses_the_column(tmp_path, settings, others):
    settings.TIME_ZONE = "Europe/London"
    path = write(
        tmp_path,
        "order_id,customer_id,ordered_at,amount\n"
        "A,1,2024-03-31T01:30:00,1\n"  # in the hour skipped in spring: moved forward
        "B,1,2024-10-27 01:30,1\n"  # in the hour repeated in autumn: the first one (BST)
        "C,1,2024-02-29,1\n" + others,
    )

    report = import_orders(source=path)

    stored = dict(Order.objects.values_list("external_id", "ordered_at"))
    assert stored["A"] == dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert stored["B"] == dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert stored["C"] == dt.datetime(2024, 2, 29, 0, 0, tzinfo=UTC)
    if others:
        assert stored["E"] == dt.datetime(2024, 7, 1, 14, 0, tzinfo=UTC)
        assert [(line, reason[:10]) for line, _, reason in errors_of(report)] == [(5, "not a date")]


def _chunks_or_error(source):
    from segments.importing.reading import open_source

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


def test_an_order_moved_to_another_customer_bumps_both_customers_and_no_one_else(tmp_path):
    # Incremental segmentation re-reads customers whose updated_at moved: the customer an
    # order left has lost spend, the one it went to has gained it.
    import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nO1,A,2024-03-01,10\n"
                                         "O2,B,2024-03-02,20\nO3,C,2024-03-03,30\n", name="one.csv"))
    long_ago = timezone.now() - dt.timedelta(days=3)
    Customer.objects.update(updated_at=long_ago)

    report = import_orders(source=write(tmp_path, "order_id,customer_id,ordered_at,amount\nO1,B,2024-03-01,10\n"
                                                  "O2,B,2024-03-02,20\nO3,C,2024-03-03,30\n", name="two.csv"))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert Order.objects.get(external_id="O1").customer.external_id == "B"
    bumped = {c.external_id for c in Customer.objects.all() if c.updated_at > long_ago}
    assert bumped == {"A", "B"}
