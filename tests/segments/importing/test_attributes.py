"""Extra columns kept as JSON attributes: numbers stay numbers, text stays text."""

import pytest

from segments.importing import import_customers
from segments.models import Customer

from .conftest import FIXTURES, write

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
