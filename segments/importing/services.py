"""import_customers and import_orders: a source read in chunks, each chunk prepared (pandas,
in a thread, one chunk ahead) and written (one transaction a chunk, or one first load of
the empty order table), and a report of what happened.

The pieces, in the order a chunk meets them: reading (file to chunks), pipeline (line
numbers, the prefetch thread), formats/ (one row preparer per file shape, built on fields,
cleaning, keys and attributes), writing or first_load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from django.conf import settings
from django.utils import timezone

from segments import selectors
from segments.importing.cleaning import Context
from segments.importing.fields import FORMATS, fields_for, plan_columns, required_for
from segments.importing.first_load import FirstOrderLoad
from segments.importing.formats import CustomerRows, OnlineRetailRows, OrderRows
from segments.importing.pipeline import prefetched, prepared_chunks
from segments.importing.reading import open_source
from segments.importing.report import ImportFileError, ImportReport
from segments.importing.writing import ChunkWriter, write_customers, write_orders


def _run(*, kind, format, source, preparer_class, mapping, encoding, date_format, dry_run, on_rows) -> ImportReport:
    started = time.perf_counter()
    started_at = timezone.now()
    ctx = Context(time_zone=settings.TIME_ZONE, phone_region=settings.PHONE_DEFAULT_REGION, date_format=date_format,
                  dates=selectors.plausible_order_dates())
    opened = open_source(source, encoding=encoding, chunk_rows=settings.IMPORT_CHUNK_ROWS)
    report = ImportReport(kind=kind, encoding=opened.encoding, dry_run=dry_run, warnings=list(opened.warnings))
    timings = {"prepare": 0.0, "write": 0.0, "wait": 0.0}
    try:
        plan = plan_columns(opened.columns, fields_for(kind, format), mapping, required=required_for(kind, format))
        preparer = preparer_class(plan, ctx)
        chunk_writer = _chunk_writer(kind, dry_run=dry_run, started_at=started_at,
                                     updates_customers=preparer_class is OnlineRetailRows)
        broken = None
        with prefetched(prepared_chunks(opened, preparer)) as chunks, chunk_writer.session():
            waited = time.perf_counter()
            try:
                for prepared in chunks:
                    timings["wait"] += time.perf_counter() - waited
                    timings["prepare"] += prepared.seconds
                    writing = time.perf_counter()
                    result, customers_created = chunk_writer.write(prepared)
                    timings["write"] += time.perf_counter() - writing
                    report.rows += prepared.rows
                    report.skipped += prepared.skipped
                    report.rejected += prepared.rejected
                    report.created += result.created
                    report.updated += result.updated
                    report.unchanged += result.unchanged
                    report.customers_created += customers_created
                    report.add_errors(prepared.errors)
                    report.add_warnings(prepared.warnings)
                    if on_rows is not None:
                        on_rows(report.rows)
                    waited = time.perf_counter()
            except ImportFileError as exc:
                # The file breaks further on. What came before it is good and is kept: the
                # session still finishes (a first load builds its indexes and commits).
                broken = exc
            finishing = time.perf_counter()
        timings["finish"] = time.perf_counter() - finishing
        if broken is not None:
            raise broken
    except ImportFileError as exc:
        exc.report = report if report.rows else None
        raise
    finally:
        opened.close()
    report.first_load = isinstance(chunk_writer, FirstOrderLoad) and chunk_writer.bulk
    report.seconds = time.perf_counter() - started
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    return report


def _chunk_writer(kind: str, *, dry_run: bool, started_at: datetime, updates_customers: bool) -> ChunkWriter:
    """A transaction per chunk; for orders into an empty order table, one first load."""
    if kind == "customers":
        return ChunkWriter(write_customers, dry_run=dry_run)
    write = partial(write_orders, started_at=started_at)
    if FirstOrderLoad.applies():
        return FirstOrderLoad(write, dry_run=dry_run, started_at=started_at, updates_customers=updates_customers)
    return ChunkWriter(write, dry_run=dry_run)


def import_customers(
    *,
    source,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert customers on external_id from a CSV path, binary file or iterable of DataFrames.

    Only the columns the file has are written (a file without phones never blanks them);
    columns that are not customer fields are merged into Customer.attributes. Raises
    ImportFileError when the file as a whole cannot be imported.
    """
    return _run(
        kind="customers", format="default", source=source, preparer_class=CustomerRows, mapping=mapping,
        encoding=encoding, date_format=None, dry_run=dry_run, on_rows=on_rows,
    )


def import_orders(
    *,
    source,
    format: str = "default",
    mapping: dict[str, str] | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert orders on external_id, creating customers the database does not know yet.

    ``format="online-retail"`` reads invoice lines (InvoiceNo, StockCode, Description,
    Quantity, InvoiceDate, UnitPrice, CustomerID, Country) into one order per invoice.
    """
    if format not in FORMATS:
        raise ImportFileError(f"Unknown format {format!r}; the formats are: {', '.join(FORMATS)}.")
    return _run(
        kind="orders", format=format, source=source,
        preparer_class=OnlineRetailRows if format == "online-retail" else OrderRows,
        mapping=mapping, encoding=encoding, date_format=date_format, dry_run=dry_run, on_rows=on_rows,
    )
