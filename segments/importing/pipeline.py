"""From a source's chunks to prepared chunks: lines numbered, blank rows dropped, each chunk
prepared in a background thread one chunk ahead of the writer (pandas parses the next chunk
while the database works on this one)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segments.importing.cleaning import has_byte, normalised
from segments.importing.preparing import Prepared, RowPreparer
from segments.importing.reading import Source
from segments.importing.report import ImportFileError


def prepared_chunks(source: Source, preparer: RowPreparer) -> Iterator[Prepared]:
    """Number the lines (header = 1), drop blank rows, prepare chunk after chunk."""
    next_line = source.first_line
    chunks = iter(source.chunks)
    current = next(chunks, None)
    while current is not None:
        failure = None
        try:
            following = next(chunks, None)  # one ahead: the last chunk must not hold an invoice back
        except ImportFileError as exc:
            # The file breaks further on: this chunk is still good and gets imported first.
            following, failure = None, exc
        started = time.perf_counter()
        spans = _line_spans(current) if source.multiline else None
        chunk = normalised(current.reset_index(drop=True))
        if spans is None:
            lines = np.arange(next_line, next_line + len(chunk), dtype=np.int64)
            next_line += len(chunk)
        else:
            lines = next_line + np.cumsum(spans) - spans
            next_line += int(spans.sum())
        if source.text and len(chunk.columns):
            blank = (chunk == "").all(axis=1).to_numpy()
            if blank.any():
                chunk, lines = chunk[~blank].reset_index(drop=True), lines[~blank]
        prepared = preparer.prepare(chunk, lines, final=following is None)
        prepared.rows = len(chunk)
        prepared.seconds = time.perf_counter() - started
        yield prepared
        if failure is not None:
            raise failure
        current = following


def _line_spans(chunk: pd.DataFrame) -> np.ndarray | None:
    """How many lines of the file each row takes: one, plus the line breaks inside its
    quoted cells (counted before cells are stripped). None when every row takes one. A look
    at each column's buffer; a count only where a cell may have a line break."""
    breaks = None
    for column in chunk.columns:
        values = chunk[column]
        if not isinstance(values.dtype, pd.StringDtype):
            continue
        array = pa.array(values)
        if not has_byte(array, ord("\n")):
            continue
        counts = pc.count_substring(array, "\n").fill_null(0).to_numpy(zero_copy_only=False)
        breaks = counts if breaks is None else breaks + counts
    return None if breaks is None else 1 + breaks.astype(np.int64)


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


@contextmanager
def prefetched(iterator: Iterator, depth: int = 1):
    """Run ``iterator`` in a thread, ``depth`` items ahead of the consumer.

    pandas prepares the next chunk while this thread waits on the database (psycopg and
    sqlite3 release the GIL while they wait): on two cores the two overlap. Database work
    stays on the caller's thread and connection, inside the caller's transactions.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in iterator:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="import-prepare", daemon=True)
    thread.start()

    def consume():
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
