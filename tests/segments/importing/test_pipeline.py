"""From chunks to prepared chunks: rows are numbered by the line of the file where they start."""

import pytest

from segments.importing import import_customers, import_orders

from .conftest import errors_of, write

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("chunk_rows", [2, 100])
def test_a_row_is_reported_on_the_line_where_it_starts_when_quoted_cells_hold_line_breaks(
    tmp_path, settings, chunk_rows
):
    settings.IMPORT_CHUNK_ROWS = chunk_rows
    path = write(tmp_path,
                 'customer_id,"first\nname",note\r\n'  # the header takes two lines
                 '1,Ann,"two\r\nlines"\r\n'  # lines 3-4
                 '2,Bo," padded \n\n"\r\n'  # lines 5-7: breaks at the end of a cell count too
                 ',Cy,x\r\n'  # line 8
                 '\r\n'  # line 9, blank
                 '4,Di,"a\nb\nc"\r\n'  # lines 10-12
                 ',Ed,y\r\n')  # line 13

    report = import_customers(source=path)

    assert errors_of(report) == [(8, "customer_id", "missing customer id"), (13, "customer_id", "missing customer id")]


def test_without_quoted_line_breaks_rows_are_lines(tmp_path, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    path = write(tmp_path, "order_id,customer_id,ordered_at,amount\n"
                           + "".join(f"O{i},C1,2024-01-0{1 + i},{i}\n" for i in range(5)) + "O9,,2024-02-01,1\n")

    report = import_orders(source=path)

    assert errors_of(report) == [(7, "customer_id", "missing customer id")]
