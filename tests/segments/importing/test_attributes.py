"""Extra columns kept as JSON attributes: numbers stay numbers, text stays text."""

import pandas as pd
import pytest

from segments.importing import import_customers
from segments.importing.attributes import MAX_ATTRIBUTE_LENGTH
from segments.models import Customer

from .conftest import FIXTURES, errors_of, write

pytestmark = pytest.mark.django_db


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


def test_numbers_longer_than_a_float_keeps_stay_text(tmp_path):
    path = write(tmp_path, "id,ean,card,exact,price,small,tiny\n"
                           "1,12345678901234567,1234567890123456,123456789012345,1234567.123456789,0.00012345,1e400\n")

    import_customers(source=path)

    assert Customer.objects.get().attributes == {
        "ean": "12345678901234567", "card": "1234567890123456",  # 17 and 16 digits
        "exact": 123456789012345, "price": "1234567.123456789", "small": 0.00012345, "tiny": "1e400",
    }


def test_long_numbers_from_a_data_frame_stay_text_too():
    frame = pd.DataFrame({"id": ["1", "2"], "ean": [12345678901234567, 42]})

    import_customers(source=frame)

    assert dict(Customer.objects.values_list("external_id", "attributes")) == {
        "1": {"ean": "12345678901234567"}, "2": {"ean": 42}
    }


def test_a_value_longer_than_the_cap_is_cut_with_a_warning(tmp_path):
    note = "é" * (MAX_ATTRIBUTE_LENGTH + 1)
    path = write(tmp_path, f"id,note,other\n1,{note},x\n2,short,y\n")

    report = import_customers(source=path)

    assert report.created == 2
    assert errors_of(report, "warnings") == [(2, "note", "longer than 1,000 characters: the first 1,000 are kept")]
    assert Customer.objects.get(external_id="1").attributes == {"note": note[:MAX_ATTRIBUTE_LENGTH], "other": "x"}
