"""Reading a file into chunks of at most ``chunk_rows`` rows, so memory stays bounded
whatever the file size.

A source is a path, a binary (or text) file object, or a DataFrame or an iterable of them.
Files are CSV: the encoding is guessed (BOM, then UTF-8, else Windows-1252) unless given,
the separator is guessed from the header. A plain file (UTF-8, no quote, CR or NUL byte)
read from a path goes through Arrow's CSV reader, several times faster than pandas'; any
other file, or one Arrow stumbles on, through pandas. Every cell comes as text.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import csv as arrow_csv

from segments.importing.report import ImportFileError


def _scan(stream) -> tuple[str, bool]:
    """The file's encoding, and whether it is plain CSV, in one read of the file.

    The encoding: utf-8-sig (or utf-16) when the file starts with a BOM, utf-8 when all of
    it decodes as UTF-8, else cp1252 (what Excel on Windows writes). Plain: UTF-8 with no
    quote, CR or NUL byte anywhere, so Arrow's reader and pandas split it alike. Leaves the
    stream where it was.
    """
    start = stream.tell()
    try:
        head = stream.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", False
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", False
        stream.seek(start)
        # The whole file, not a sample: an export is often ASCII for a million rows and
        # "Zoë" on the last one. Decoding runs at about 1 GB/s.
        decoder = codecs.getincrementaldecoder("utf-8")()
        plain = True
        try:
            while block := stream.read(1 << 20):
                decoder.decode(block)
                plain = plain and not (b'"' in block or b"\r" in block or b"\0" in block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252", False
        return "utf-8", plain
    finally:
        stream.seek(start)


@dataclass
class Source:
    """An opened source: its column names and its chunks, read as they are iterated."""

    columns: list[str]
    chunks: Iterator[pd.DataFrame]
    encoding: str | None
    text: bool  # values are CSV text (else typed values from DataFrames)
    close: Callable[[], None] = lambda: None


def open_source(source, *, encoding: str | None, chunk_rows: int) -> Source:
    """Open a path, a file object, a DataFrame or an iterable of DataFrames; call ``close``
    when done. Raises ImportFileError when the file cannot be opened or has no header."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"Cannot open {path}: {exc.strerror or exc}") from exc
        try:
            opened = _csv_source(stream, encoding=encoding, chunk_rows=chunk_rows, path=path)
        except BaseException:
            stream.close()
            raise
        opened.close = stream.close
        return opened
    if hasattr(source, "read"):
        return _csv_source(source, encoding=encoding, chunk_rows=chunk_rows)
    if isinstance(source, pd.DataFrame):
        source = [source]
    return _frame_source(iter(source), chunk_rows=chunk_rows)


def _csv_source(stream, *, encoding: str | None, chunk_rows: int, path: Path | None = None) -> Source:
    plain = False  # the whole file decoded as UTF-8 and has no quote, CR or NUL byte
    if isinstance(stream, io.TextIOBase):
        encoding, errors = None, "strict"
        sample = stream.read(65536)
    else:
        if encoding:
            try:
                encoding = codecs.lookup(encoding).name
            except LookupError:
                raise ImportFileError(f"Unknown encoding {encoding!r}; try utf-8 or cp1252.") from None
            errors = "strict"
        else:
            encoding, plain = _scan(stream)
            # A guess of cp1252 is the fallback for "not UTF-8": the five bytes it leaves
            # undefined become U+FFFD instead of failing the import.
            errors = "replace" if encoding == "cp1252" else "strict"
        sample = stream.read(65536).decode(encoding, errors="replace")
    stream.seek(0)
    options = dict(
        sep=_guess_separator(sample),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,  # keeps line numbers true; blank rows are dropped later
        index_col=False,
        encoding=encoding,
        encoding_errors=errors,
    )
    try:
        header = pd.read_csv(stream, nrows=0, **options)
    except pd.errors.EmptyDataError:
        raise ImportFileError("The file is empty: expected a first line with the column names.") from None
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, encoding) from exc
    stream.seek(0)
    columns = [str(c).strip().lstrip("\ufeff") for c in header.columns]
    _require_text_names(columns)
    # Arrow's CSV reader is several times faster than pandas' and reads a plain file (UTF-8,
    # no quotes, no CR) into the same frames. Any line it fails on (short, long or blank)
    # hands the file back to pandas from the first chunk not yet yielded.
    arrow = path is not None and plain and len(columns) > 1
    reader = pd.read_csv(stream, chunksize=chunk_rows, **options)

    def chunks():
        current, done = reader, 0
        try:
            if arrow:
                try:
                    for chunk in _arrow_chunks(path, options["sep"], len(columns), chunk_rows):
                        chunk.columns = columns
                        yield chunk.fillna("")
                        done += 1
                except pa.ArrowException:
                    pass
                else:
                    if done:  # else a file without data lines: pandas yields its one empty chunk
                        return
                if done:
                    current.close()
                    stream.seek(0)
                    current = pd.read_csv(stream, chunksize=chunk_rows, **options)
            try:
                for number, chunk in enumerate(current):
                    if number < done:
                        continue
                    chunk.columns = columns
                    yield chunk.fillna("")  # a short row leaves NaN in the cells it lacks
            except pd.errors.ParserError as exc:
                raise ImportFileError(f"The file is not valid CSV: {exc}") from exc
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, encoding) from exc
        finally:
            current.close()

    return Source(columns=columns, chunks=chunks(), encoding=encoding, text=True)


def _require_text_names(columns: list[str]) -> None:
    """A column name with a NUL character would be an attribute's name, which PostgreSQL
    cannot store: the header is damaged, or the file is not text."""
    for number, name in enumerate(columns, start=1):
        if "\x00" in name:
            shown = name.replace("\x00", "\\x00")
            raise ImportFileError(
                f'Column {number} of the header, "{shown}", contains a NUL character (\\x00), which text never has: '
                "is the file damaged, or in another encoding (give it, e.g. utf-16)?"
            )


def _arrow_chunks(path: Path, sep: str, width: int, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The data lines in frames of chunk_rows rows, as pd.read_csv(dtype=str) makes them:
    one Arrow large_string array a column, a RangeIndex counting on from chunk to chunk."""
    names = [str(i) for i in range(width)]
    reader = arrow_csv.open_csv(
        os.fspath(path),
        read_options=arrow_csv.ReadOptions(skip_rows=1, column_names=names, block_size=1 << 22),
        parse_options=arrow_csv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
        convert_options=arrow_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.large_string()), strings_can_be_null=False
        ),
    )

    def frame(table: pa.Table, start: int) -> pd.DataFrame:
        return pd.DataFrame(
            {i: pd.array(column.combine_chunks(), dtype="str") for i, column in enumerate(table.columns)},
            index=pd.RangeIndex(start, start + table.num_rows),
        )

    start, pending, rows = 0, [], 0
    try:
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            while rows >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield frame(table.slice(0, chunk_rows), start)
                start, rows = start + chunk_rows, rows - chunk_rows
                pending = table.slice(chunk_rows).to_batches()
        if rows:
            yield frame(pa.Table.from_batches(pending), start)
    finally:
        reader.close()


def _decode_error(exc: UnicodeDecodeError, encoding) -> ImportFileError:
    return ImportFileError(
        f"The file is not valid {encoding} text (byte {exc.object[exc.start:exc.start + 1]!r} at offset "
        f"{exc.start} of a block). Give its encoding, e.g. cp1252 for files saved by Excel on Windows."
    )


def _guess_separator(sample: str) -> str:
    """Comma, or the semicolon European Excel writes, or tab, or pipe: whichever the header uses most."""
    header = sample.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _frame_source(frames: Iterator[pd.DataFrame], *, chunk_rows: int) -> Source:
    first = next(frames, None)
    if first is None:
        return Source(columns=[], chunks=iter(()), encoding=None, text=False)
    columns = [str(c).strip() for c in first.columns]
    _require_text_names(columns)

    def chunks():
        for frame in chain([first], frames):
            frame = frame.set_axis(columns, axis=1)
            for start in range(0, len(frame), chunk_rows):
                yield frame.iloc[start : start + chunk_rows]

    return Source(columns=columns, chunks=chunks(), encoding=None, text=False)
