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
import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import csv as arrow_csv

from segments.importing.report import ImportFileError, RowError

# One character of UTF-8 beyond ASCII: rare in Windows-1252 text, where it reads as two
# characters such as "Ã«".
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass
class _Scan:
    encoding: str
    plain: bool = False  # UTF-8 with no quote, CR or NUL byte anywhere
    # A file read as cp1252 that holds UTF-8 characters too: its first line that is not
    # UTF-8, and that line's text.
    mixed: tuple[int, str] | None = None


def _scan(stream) -> _Scan:
    """The file's encoding, and whether it is plain CSV, in one read of the file.

    The encoding: utf-8-sig (or utf-16) when the file starts with a BOM, utf-8 when all of
    it decodes as UTF-8, else cp1252 (what Excel on Windows writes). Plain: UTF-8 with no
    quote, CR or NUL byte anywhere, so Arrow's reader and pandas split it alike. A cp1252
    file that also holds UTF-8 characters (two exports pasted together) is read wrong in
    part whatever the choice: ``mixed`` says where. Leaves the stream where it was.
    """
    start = stream.tell()
    try:
        head = stream.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return _Scan("utf-8-sig")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return _Scan("utf-16")
        stream.seek(start)
        # The whole file, not a sample: an export is often ASCII for a million rows and
        # "Zoë" on the last one. Decoding runs at about 1 GB/s.
        decoder = codecs.getincrementaldecoder("utf-8")()
        plain, read = True, 0
        try:
            while block := stream.read(1 << 20):
                decoder.decode(block)
                read += len(block)
                plain = plain and not (b'"' in block or b"\r" in block or b"\0" in block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            # The decoder holds back the start of a character cut by the block's end.
            at = start + read - (len(exc.object) - len(block)) + exc.start
            return _Scan("cp1252", mixed=_mixed(stream, start, at))
        return _Scan("utf-8", plain)
    finally:
        stream.seek(start)


def _mixed(stream, start: int, at: int) -> tuple[int, str] | None:
    """The line of the byte at ``at``, the first that is not UTF-8, and its text, when the
    file holds UTF-8 characters before or after it; else None (a file of Windows-1252
    throughout). Reads the file again, only for a file that is not UTF-8."""
    stream.seek(start)
    lines, ascii, head, left = 0, True, b"", at - start  # head: the line's part before ``at``
    while left and (block := stream.read(min(left, 1 << 20))):
        left -= len(block)
        lines += block.count(b"\n")
        ascii = ascii and block.isascii()
        cut = block.rfind(b"\n")
        head = block[cut + 1:] if cut >= 0 else head + block
    tail = stream.read(1 << 16)
    utf8 = not ascii or _UTF8_CHARACTER.search(tail, 1) is not None
    while not utf8 and (block := stream.read(1 << 20)):
        utf8 = _UTF8_CHARACTER.search(block) is not None
    if not utf8:
        return None
    ends = tail.find(b"\n")
    line = head + tail[:ends if ends >= 0 else len(tail)]
    return lines + 1, line.decode("cp1252", errors="replace").rstrip("\r")


@dataclass
class Source:
    """An opened source: its column names and its chunks, read as they are iterated."""

    columns: list[str]
    chunks: Iterator[pd.DataFrame]
    encoding: str | None
    text: bool  # values are CSV text (else typed values from DataFrames)
    close: Callable[[], None] = lambda: None
    warnings: list[RowError] = field(default_factory=list)  # doubts about the file as a whole
    # Where the first data row starts (the header may span lines too), and whether a row may
    # span lines (a quoted cell with a line break; never in a plain file).
    first_line: int = 2
    multiline: bool = False


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
    warnings = []
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
            scan = _scan(stream)
            encoding, plain = scan.encoding, scan.plain
            # A guess of cp1252 is the fallback for "not UTF-8": the five bytes it leaves
            # undefined become U+FFFD instead of failing the import.
            errors = "replace" if encoding == "cp1252" else "strict"
            if scan.mixed:
                line, text = scan.mixed
                warnings.append(RowError(line, "", text, _MIXED))
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
    _require_unique_names(_header_names(sample, options["sep"], len(columns)) or columns)
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

    return Source(columns=columns, chunks=chunks(), encoding=encoding, text=True, warnings=warnings,
                  first_line=2 + sum(str(c).count("\n") for c in header.columns), multiline=not plain)


_MIXED = (
    "not UTF-8, unlike other lines of the file: the whole file was read as Windows-1252 (cp1252), so its "
    'UTF-8 characters read wrong ("Zoë" as "ZoÃ«"). Save the file as UTF-8 throughout and import it again'
)


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


def _header_names(sample: str, sep: str, count: int) -> list[str] | None:
    """The header's names as the file writes them, stripped; None when they cannot be told
    from the sample. pandas has renamed a name it saw twice ("email", "email.1")."""
    try:
        names = next(csv.reader(io.StringIO(sample), delimiter=sep))
    except (csv.Error, StopIteration):
        return None
    return [name.strip().lstrip("\ufeff") for name in names] if len(names) == count else None


def _require_unique_names(columns: list[str]) -> None:
    """A name twice would make the second column an attribute called "email.1", or two
    columns one: refuse the file, naming it."""
    seen: dict[str, int] = {}
    for number, name in enumerate(columns, start=1):
        if name and name in seen:
            raise ImportFileError(
                f'The header names the column "{name}" twice (columns {seen[name]} and {number}): '
                "rename or remove one, and import the file again."
            )
        seen.setdefault(name, number)


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
    """Comma, or the semicolon European Excel writes, or tab, or pipe: whichever the header
    uses most outside quotes ("Name; Surname",Email is comma-separated)."""
    header = re.sub(r'"[^"]*"', "", sample).split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _frame_source(frames: Iterator[pd.DataFrame], *, chunk_rows: int) -> Source:
    first = next(frames, None)
    if first is None:
        return Source(columns=[], chunks=iter(()), encoding=None, text=False)
    columns = [str(c).strip() for c in first.columns]
    _require_text_names(columns)
    _require_unique_names(columns)

    def chunks():
        for frame in chain([first], frames):
            frame = frame.set_axis(columns, axis=1)
            for start in range(0, len(frame), chunk_rows):
                yield frame.iloc[start : start + chunk_rows]

    return Source(columns=columns, chunks=chunks(), encoding=None, text=False)
