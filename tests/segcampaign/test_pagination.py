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


@pytest.mark.postgres
def test_a_result_only_a_scan_would_count_takes_the_estimate(customers, monkeypatch):
    # No index serves the consent flag: counting means reading the whole table, which the plan's cost says.
    monkeypatch.setattr(pagination, "EXACT_COUNT_MAX_COST", 1)
    monkeypatch.setattr(pagination, "ESTIMATE_AT_LEAST", 10)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE segments_customer")

    paginator = LargeTablePaginator(Customer.objects.filter(email_consent=False), 50)

    assert paginator.count >= 10 and paginator.estimated


@pytest.mark.postgres
def test_a_small_estimate_is_never_trusted_however_costly_the_count(customers, monkeypatch):
    # The admin shows every row at once when the count says they fit on a page.
    monkeypatch.setattr(pagination, "EXACT_COUNT_MAX_COST", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE segments_customer")

    paginator = LargeTablePaginator(Customer.objects.filter(email_consent=False), 50)

    assert paginator.count == 250 and not paginator.estimated


@pytest.mark.postgres
def test_an_estimate_short_of_the_rows_there_are_does_not_cut_the_last_page(customers, monkeypatch):
    monkeypatch.setattr(pagination, "_plan", lambda queryset: (120, 0.0))
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 100)

    page = LargeTablePaginator(Customer.objects.order_by("external_id"), 50).page(3)

    assert page.paginator.estimated and page.paginator.count == 120
    assert [c.external_id for c in page.object_list] == [f"C{i:05d}" for i in range(101, 151)]
