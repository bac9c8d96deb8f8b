"""Paging through big tables: estimated counts when exact ones cost, pages fetched by key."""

import pytest
from django.db import connection
from django.db.models import Count

from segcampaign import pagination
from segcampaign.pagination import LargeTablePaginator
from segments.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    Customer.objects.bulk_create(Customer(external_id=f"C{i:05d}") for i in range(1, 251))


def test_a_page_holds_the_rows_of_its_keys_in_the_lists_order_with_their_annotations(customers):
    queryset = Customer.objects.annotate(order_count=Count("orders")).order_by("-external_id")

    page = LargeTablePaginator(queryset, 50).page(3)

    assert [c.external_id for c in page.object_list] == [f"C{i:05d}" for i in range(150, 100, -1)]
    assert all(c.order_count == 0 for c in page.object_list)
    assert page.has_next() and page.paginator.num_pages == 5


def test_small_results_are_counted_exactly(customers):
    paginator = LargeTablePaginator(Customer.objects.filter(external_id__lt="C00013"), 50)

    assert paginator.count == 12
    assert not paginator.estimated


@pytest.mark.postgres
def test_large_results_take_the_planners_estimate_instead_of_counting(customers, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE segments_customer")

    paginator = LargeTablePaginator(Customer.objects.all(), 50)

    assert 200 <= paginator.count <= 300 and paginator.estimated
