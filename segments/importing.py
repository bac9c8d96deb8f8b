"""CSV import of customers and orders: read in chunks, validate with pandas, upsert in bulk.

Three layers, top to bottom in this file:

- Reading: a path, a binary file or an iterable of DataFrames becomes chunks of at most
  settings.IMPORT_CHUNK_ROWS rows (memory stays bounded whatever the file size). The
  encoding is guessed (BOM, then UTF-8, else Windows-1252) unless given.
- Preparing (pandas and NumPy only): resolve the file's columns to canonical fields, clean
  and validate each column vectorised, and split the chunk into rows to upsert and rows
  rejected with their line number, column and reason. State that spans chunks is small:
  hashes of the ids already seen and the online-retail invoice carried over a chunk border.
- Writing: one transaction per chunk through segments.bulk (COPY + one INSERT ... ON
  CONFLICT), so a crash keeps the chunks already done and a re-run is idempotent.

Preparing runs in a background thread one chunk ahead of writing: pandas parses the next
chunk while the database works on this one.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import queue
import re
import threading
import time
import warnings
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone
from pandas.tseries.api import guess_datetime_format

from segcampaign import bulk
from segments.models import Customer, ImportJob, Order

MAX_ERRORS_KEPT = 10_000  # a report lists this many rejected rows; the rest are only counted
_VALUE_SHOWN = 200  # characters of a rejected value kept in the report
_PHONE_CACHE_LIMIT = 200_000
_HASH_KEY = "segcampaign-ids1"  # 16 bytes; changing it changes every derived order id


# --- The report -------------------------------------------------------------------------


@dataclass
class RowError:
    line: int  # line in the file; the header is line 1
    column: str  # the file's column name
    value: str
    reason: str

    def __str__(self) -> str:
        return f'line {self.line}, column "{self.column}": {self.reason} (value: "{self.value}")'


@dataclass
class ImportReport:
    """What an import did. For online-retail files, rows/rejected/skipped count invoice lines
    while created/updated/unchanged count orders (one per invoice)."""

    kind: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    dry_run: bool = False
    customers_created: int = 0  # by an orders import, for customer ids the database did not know
    first_load: bool = False  # orders loaded into an empty table, its indexes built once at the end
    errors_omitted: int = 0  # rejected-row details beyond MAX_ERRORS_KEPT
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self, *, max_errors: int = 20) -> list[str]:
        """The report as a person reads it: counts, then at most ``max_errors`` rejected rows."""
        what = "customers" if self.kind == "customers" else "orders"
        lines = [
            f"{self.rows:,} rows read ({self.encoding or 'typed data'}): {self.created:,} {what} created, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, {self.rejected:,} rows rejected, "
            f"{self.skipped:,} skipped"
        ]
        if self.customers_created:
            lines.append(f"{self.customers_created:,} customers created for orders of customer ids not seen before")
        if self.skipped:
            lines.append(f"{self.skipped:,} lines had no customer id and were skipped")
        if self.errors:
            lines.append("Rejected rows:")
            lines.extend(f"  {error}" for error in self.errors[:max_errors])
            more = len(self.errors) - max_errors + self.errors_omitted
            if more > 0:
                lines.append(f"  ... and {more:,} more")
        if self.first_load:
            lines.append("First load into the empty order table: one transaction, indexes built once at the end.")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return lines

    def _add_errors(self, errors: pd.DataFrame) -> None:
        room = MAX_ERRORS_KEPT - len(self.errors)
        kept = errors.iloc[: max(room, 0)]
        self.errors.extend(
            RowError(int(line), str(column), str(value)[:_VALUE_SHOWN], str(reason))
            for line, column, value, reason in kept.itertuples(index=False)
        )
        self.errors_omitted += len(errors) - len(kept)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported: unreadable, a missing column, a bad mapping.

    ``report`` holds what was imported before the problem showed up (chunks already
    committed stay committed), or None when nothing was read.
    """

    def __init__(self, message: str, report: ImportReport | None = None):
        super().__init__(message)
        self.report = report


# --- Fields -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # a key of _CLEANERS
    max_length: int | None = None
    aliases: tuple[str, ...] = ()  # other column names that mean this field (compared without case or punctuation)


CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec(
        "customer_key", 64,
        ("customer_id", "customer", "id", "customer_number", "customer_no", "client_id", "contact_id"),
    ),
    "email": FieldSpec("email", 254, ("email_address", "e_mail", "mail")),
    "phone": FieldSpec(
        "phone", 20, ("phone_number", "mobile", "mobile_phone", "mobile_number", "telephone", "tel", "cell")
    ),
    "first_name": FieldSpec("text", 100, ("firstname", "given_name", "forename")),
    "last_name": FieldSpec("text", 100, ("lastname", "surname", "family_name")),
    "country": FieldSpec("text", 64, ("country_code", "country_name")),
    "time_zone": FieldSpec("time_zone", 64, ("timezone", "tz")),
    "locale": FieldSpec("text", 16, ("language", "lang")),
    "email_consent": FieldSpec("bool", None, ("email_opt_in", "email_optin", "accepts_email_marketing", "newsletter")),
    "email_consent_at": FieldSpec("datetime", None, ("email_opt_in_at", "email_consent_date")),
    "email_consent_source": FieldSpec("text", 32),
    "sms_consent": FieldSpec("bool", None, ("sms_opt_in", "sms_optin", "accepts_sms_marketing")),
    "sms_consent_at": FieldSpec("datetime", None, ("sms_opt_in_at", "sms_consent_date")),
    "sms_consent_source": FieldSpec("text", 32),
}

ORDER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec(
        "key", 64,
        ("order_id", "order", "order_number", "order_no", "order_ref", "invoice", "invoice_no", "invoice_number",
         "transaction_id"),
    ),
    "customer_id": FieldSpec(
        "customer_key", 64, ("customer", "customer_external_id", "customer_number", "customer_no", "client_id"),
    ),
    "ordered_at": FieldSpec(
        "datetime", None,
        ("order_date", "date", "invoice_date", "ordered", "created_at", "purchased_at", "purchase_date", "timestamp",
         "datetime"),
    ),
    "amount": FieldSpec(
        "decimal", None, ("total", "order_total", "total_amount", "grand_total", "revenue", "sales", "value")
    ),
    "quantity": FieldSpec("int", None, ("qty", "items", "item_count")),
    "unit_price": FieldSpec("decimal", None, ("price", "item_price")),
    "is_return": FieldSpec("bool", None, ("return", "returned", "is_refund", "refund", "refunded")),
    "coupon_code": FieldSpec("text", 64, ("coupon", "discount_code", "promo_code", "voucher", "voucher_code")),
}

# The UCI "Online Retail" shape (and "Online Retail II": Invoice, Price, Customer ID): one row
# per invoice line.
ONLINE_RETAIL_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec("key", 64, ("invoiceno", "invoice", "invoice_no")),
    "customer_id": FieldSpec("customer_key", 64, ("customerid", "customer")),
    "ordered_at": FieldSpec("datetime", None, ("invoicedate", "invoice_date")),
    "quantity": FieldSpec("int", None, ("qty",)),
    "unit_price": FieldSpec("decimal", None, ("unitprice", "price")),
    "country": FieldSpec("text", 64, ()),
}

FORMATS = ("default", "online-retail")

# Alternatives: one of the tuples must be mapped in full.
_REQUIRED_CUSTOMER = ((("external_id",),),)
_REQUIRED_ORDER = ((("customer_id",),), (("ordered_at",),), (("amount",), ("quantity", "unit_price")))
_REQUIRED_ONLINE_RETAIL = tuple(((f,),) for f in ("external_id", "customer_id", "ordered_at", "quantity", "unit_price"))

_MAX_AMOUNT = 1e10  # Order.amount is numeric(12, 2)


def fields_for(kind: str, format: str = "default") -> dict[str, FieldSpec]:
    """The canonical fields of a file kind ("customers" or "orders") and format."""
    if kind == "customers":
        return CUSTOMER_FIELDS
    return ONLINE_RETAIL_FIELDS if format == "online-retail" else ORDER_FIELDS


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["email=E-Mail Address", "external_id = Kundennummer"]`` -> {field: column}."""
    mapping = {}
    for item in items:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ImportFileError(f"A mapping is field=Column, for example email=E-Mail Address; got {item!r}.")
        mapping[name.strip()] = column.strip()
    return mapping


# --- Reading ----------------------------------------------------------------------------


def guess_encoding(stream) -> str:
    """utf-8-sig (or utf-16) when the file starts with a BOM, utf-8 when all of it decodes
    as UTF-8, else cp1252 (what Excel on Windows writes). Leaves the stream where it was."""
    return _scan(stream)[0]


def _scan(stream) -> tuple[str, bool]:
    """guess_encoding's answer, and whether the file is plain CSV: no quote, CR or NUL byte
    anywhere, so Arrow's reader and pandas split it alike. One read of the file for both."""
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
class _Source:
    columns: list[str]
    chunks: Iterator[pd.DataFrame]
    encoding: str | None
    text: bool  # values are CSV text (else typed values from DataFrames)
    close: Callable[[], None] = lambda: None


def _open_source(source, *, encoding: str | None, chunk_rows: int) -> _Source:
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


def _csv_source(stream, *, encoding: str | None, chunk_rows: int, path: Path | None = None) -> _Source:
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

    return _Source(columns=columns, chunks=chunks(), encoding=encoding, text=True)


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


def _frame_source(frames: Iterator[pd.DataFrame], *, chunk_rows: int) -> _Source:
    first = next(frames, None)
    if first is None:
        return _Source(columns=[], chunks=iter(()), encoding=None, text=False)
    columns = [str(c).strip() for c in first.columns]

    def chunks():
        for frame in chain([first], frames):
            frame = frame.set_axis(columns, axis=1)
            for start in range(0, len(frame), chunk_rows):
                yield frame.iloc[start : start + chunk_rows]

    return _Source(columns=columns, chunks=chunks(), encoding=None, text=False)


# --- Columns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    fields: dict[str, str]  # canonical field -> the file's column
    extra: list[str]  # the file's other columns, kept as attributes


def _fold(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def plan_columns(columns: list[str], fields: dict[str, FieldSpec], mapping: dict[str, str] | None, *,
                 required) -> ColumnPlan:
    """Match the file's columns to fields: the mapping first, then field names and aliases
    compared without case, spaces or punctuation (CustomerID, customer_id, "Customer ID")."""
    listed = ", ".join(columns) if columns else "(none)"
    mapping = dict(mapping or {})
    unknown = [name for name in mapping if name not in fields]
    if unknown:
        raise ImportFileError(
            f"Unknown field(s) in the column mapping: {', '.join(unknown)}. The fields are: {', '.join(fields)}."
        )
    chosen: dict[str, str] = {}
    absent = []
    folded = {}
    for column in columns:
        folded.setdefault(column.casefold(), column)
    for name, column in mapping.items():
        found = column if column in columns else folded.get(column.casefold())
        if found is None:
            absent.append(f"{name}={column}")
        chosen[name] = found
    if absent:
        raise ImportFileError(
            f"The column mapping names column(s) the file does not have: {', '.join(absent)}. "
            f"The file's columns are: {listed}."
        )
    taken = set(chosen.values())
    by_folded_name = {}
    for column in columns:
        if column not in taken:
            by_folded_name.setdefault(_fold(column), column)
    for name, spec in fields.items():
        if name in chosen:
            continue
        for candidate in (name, *spec.aliases):
            column = by_folded_name.get(_fold(candidate))
            if column is not None and column not in taken:
                chosen[name] = column
                taken.add(column)
                break
    missing = []
    for alternatives in required:
        if not any(all(f in chosen for f in option) for option in alternatives):
            names = " or ".join(" and ".join(option) for option in alternatives)
            looked_for = ", ".join(dict.fromkeys((alternatives[0][0], *fields[alternatives[0][0]].aliases)))
            missing.append(f"{names} (looked for: {looked_for})")
    if missing:
        raise ImportFileError(
            f"The file has no column for {'; '.join(missing)}. The file's columns are: {listed}. "
            f"Name the column with a mapping such as field=Column."
        )
    extra = [c for c in columns if c not in taken and not re.fullmatch(r"Unnamed: \d+", c)]
    return ColumnPlan(fields=chosen, extra=extra)


# --- Cleaning one column, vectorised ------------------------------------------------------
# Each cleaner takes the raw column and returns (values, rejected mask, reason), where the
# reason is one string or an array with one per row.


@dataclass
class _Context:
    time_zone: str
    phone_region: str
    date_format: str | None = None
    phone_cache: dict = field(default_factory=dict)
    guessed_formats: dict = field(default_factory=dict)  # per column, so every chunk reads dates alike


def _as_text(values: pd.Series) -> pd.Series:
    """Stripped text, "" when missing; typed columns (from DataFrames) spelled as a CSV would.

    Text columns arrive stripped already (_normalised, once per chunk), so they pass through.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return values
    if pd.api.types.is_bool_dtype(dtype) and not values.hasnans:
        return pd.Series(np.where(values.to_numpy(dtype=bool), "true", "false"), index=values.index, dtype="str")
    if pd.api.types.is_float_dtype(dtype):
        return pd.Series(_float_text(values.to_numpy(dtype=float, na_value=np.nan)), index=values.index, dtype="str")
    text = values.astype("str").fillna("")
    if dtype == object:
        text = text.str.strip()
    return text


def _normalised(chunk: pd.DataFrame) -> pd.DataFrame:
    """Text columns as stripped str, "" for missing: done once, every check reads the result."""
    changed = {}
    for column in chunk.columns:
        values = chunk[column]
        if values.dtype == object:
            values = values.astype("str")
        elif not isinstance(values.dtype, pd.StringDtype):
            continue
        if values.hasnans:
            values = values.fillna("")
        # Most exports have no padding, and stripping every cell costs more than looking.
        if _padded(values):
            values = values.str.strip()
        if values is not chunk[column]:
            changed[column] = values
    return chunk.assign(**changed) if changed else chunk


_PAD = " \t\r\xa0"


def _padded(values: pd.Series) -> bool:
    """Whether a cell starts or ends with one of _PAD, or has one next to a line break inside
    (a quoted multi-line cell). Arrow kernels over the column's buffers: no Python strings."""
    array = pa.array(values)
    if not pc.all(pc.equal(pc.utf8_trim(array, _PAD), array), min_count=0).as_py():
        return True
    return bool(pc.any(pc.match_substring(array, "\n")).as_py()) and bool(
        pc.any(pc.match_substring_regex(array, f"\n[{_PAD}]|[{_PAD}]\n")).as_py()
    )


def _float_text(array: np.ndarray) -> np.ndarray:
    """17850.0 -> "17850", 13.5 -> "13.5", NaN -> "": whole numbers lose the ".0" a float column adds."""
    finite = np.isfinite(array)
    whole = finite & (np.abs(array) < 2**53) & (array == np.round(array))
    as_int = np.where(whole, array, 0).astype(np.int64).astype(str)
    as_float = pd.Series(array).astype(str).fillna("").to_numpy(dtype=object)
    return np.where(whole, as_int, np.where(finite, as_float, "")).astype(object)


def _clean_text(raw, spec, ctx, column):
    text = _as_text(raw)
    return text, (text.str.len() > spec.max_length).to_numpy(), f"longer than {spec.max_length} characters"


def _clean_customer_key(raw, spec, ctx, column):
    text, too_long, reason = _clean_text(raw, spec, ctx, column)
    # Spreadsheet exports turn 17850 into "17850.0": both mean customer 17850.
    if text.str.contains(".", regex=False).any():
        text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text, too_long, reason


_EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def _clean_email(raw, spec, ctx, column):
    text = _as_text(raw).str.lower()
    bad = (text != "") & ~(text.str.fullmatch(_EMAIL) & (text.str.len() <= spec.max_length))
    return text, bad.to_numpy(dtype=bool), "not a valid email address"


def _e164(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_phone(raw, spec, ctx, column):
    text = _as_text(raw)
    present = (text != "").to_numpy()
    distinct = pd.unique(text[present])
    cache = ctx.phone_cache
    if len(cache) + len(distinct) > _PHONE_CACHE_LIMIT:
        cache.clear()
    # Parsing is the slow part (tens of microseconds a number): once per distinct value.
    for value in distinct:
        if value not in cache:
            cache[value] = _e164(value, ctx.phone_region)
    e164 = text.map(cache)
    valid = e164.notna().to_numpy()
    values = pd.Series(np.where(valid, e164.to_numpy(dtype=object), ""), index=raw.index, dtype="str")
    reason = f"not a valid phone number (numbers without +country code are read as {ctx.phone_region})"
    return values, present & ~valid, reason


_BOOLEANS = {"true": True, "yes": True, "y": True, "1": True, "false": False, "no": False, "n": False, "0": False}


def _clean_bool(raw, spec, ctx, column):
    if pd.api.types.is_bool_dtype(raw.dtype) and not raw.hasnans:
        return raw.to_numpy(dtype=bool), np.zeros(len(raw), dtype=bool), ""
    text = _as_text(raw).str.lower()
    mapped = text.map(_BOOLEANS)
    bad = (text != "").to_numpy() & mapped.isna().to_numpy()
    return mapped.isin([True]).to_numpy(), bad, "not one of yes/no, true/false, y/n, 1/0"


_AWARE = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
# Matches every cell _AWARE matches. Without \d, \s or $ (which pandas hands to Python's re,
# cell by cell) it runs on Arrow: a quick look before the real test.
_MAYBE_AWARE = r"[zZ+]|:[^-]*-"
_UTC = "datetime64[us, UTC]"


def _to_utc(parsed: pd.Series, time_zone: str) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").astype(_UTC)
    # Naive times are the shop's local time. The hour repeated when clocks go back is read
    # as its first occurrence (daylight time); the hour skipped in spring moves forward.
    localized = parsed.dt.tz_localize(
        time_zone, ambiguous=np.ones(len(parsed), dtype=bool), nonexistent="shift_forward"
    )
    return localized.dt.tz_convert("UTC").astype(_UTC)


def _parse_dates(text: pd.Series, fmt: str, time_zone: str, *, utc: bool = False) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # format inference chatters about dayfirst
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
        except (ValueError, TypeError):  # mixed offsets, or offsets next to naive times
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    return _to_utc(parsed, time_zone)


_PLAIN_LOCAL = r"^(?:\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d)?)?)?$"  # or empty; RE2: \d is 0-9


def _plain_local_dates(text: pd.Series, present: np.ndarray) -> pd.Series | None:
    """The non-empty cells as naive datetime64[us] when every one is a real date written
    2024-03-31, 2024-03-31 14:05 or 2024-03-31T14:05:00, else None.

    The usual export, read by Arrow at half the cost of pd.to_datetime, to the same values.
    Arrow fails on any date pandas cannot read (Feb 30, hour 24; also on year 0, which
    pandas reads), and then pandas reads the column.
    """
    array = pa.array(text)
    if array.null_count or not pc.all(pc.match_substring_regex(array, _PLAIN_LOCAL), min_count=0).as_py():
        return None
    try:
        stamps = pc.cast(array.filter(pa.array(present)), pa.timestamp("us"))
    except pa.ArrowException:
        return None
    return pd.Series(stamps.to_numpy(), index=text.index[present], name=text.name)


def _clean_datetime(raw, spec, ctx, column):
    n = len(raw)
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC").astype(_UTC), np.zeros(n, dtype=bool), ""
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return _to_utc(raw, ctx.time_zone), np.zeros(n, dtype=bool), ""
    text = _as_text(raw)
    present = (text != "").to_numpy()
    out = pd.Series(pd.NaT, index=raw.index, dtype=_UTC)
    if ctx.date_format:
        if present.any():
            out[present] = _parse_dates(text[present], ctx.date_format, ctx.time_zone)
        reason = f"not a date in the format {ctx.date_format}"
    else:
        aware = np.zeros(n, dtype=bool)
        local = _plain_local_dates(text, present)  # then none is aware
        if local is None and text.str.contains(_MAYBE_AWARE, regex=True).any():
            aware = present & text.str.contains(_AWARE, regex=True).to_numpy()
        if aware.any():
            out[aware] = _parse_dates(text[aware], "ISO8601", ctx.time_zone, utc=True)
        naive = present & ~aware
        if naive.any():
            if local is not None:
                out[naive] = _to_utc(local, ctx.time_zone)
            else:
                out[naive] = _parse_dates(text[naive], "ISO8601", ctx.time_zone)
        failed = present & out.isna().to_numpy()
        if failed.any():
            # Not ISO 8601: infer the format once per column (from the first such value)
            # and keep it, so "03/04/2024" means the same day in every chunk; then let
            # pandas read whatever still fails one value at a time.
            fmt = ctx.guessed_formats.get(column)
            if fmt is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fmt = guess_datetime_format(text[failed].iloc[0])
                if fmt:
                    ctx.guessed_formats[column] = fmt
            if fmt:
                out[failed] = _parse_dates(text[failed], fmt, ctx.time_zone)
                failed = present & out.isna().to_numpy()
            if failed.any():
                out[failed] = _parse_dates(text[failed], "mixed", ctx.time_zone)
        reason = "not a date (expected e.g. 2024-03-31 14:05 or 2024-03-31T14:05:00+01:00)"
    return out, present & out.isna().to_numpy(), reason


def _numbers(raw) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing or not a number) and a mask of non-empty cells."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        array = raw.to_numpy(dtype=float, na_value=np.nan)
        return array, ~np.isnan(array)
    text = _as_text(raw)
    present = (text != "").to_numpy()
    array = _plain_numbers(text, present)
    if array is None:
        array = pd.to_numeric(text.where(present), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return array, present


_PLAIN_NUMBER = r"^-?\d+(?:\.\d+)?$"  # Arrow's RE2: \d is 0-9 only, $ the very end


def _plain_numbers(text: pd.Series, present: np.ndarray) -> np.ndarray | None:
    """Floats when every non-empty cell is a plain decimal like -1234.50, else None.

    The common case, parsed by Arrow at a tenth of pd.to_numeric's cost. Both round
    correctly, and 15 characters keep the digits exact, so both give the same float. The
    one difference, "-0" (0.0 from to_numeric in an all-integer column), goes the slow way.
    """
    array = pa.array(text)
    plain = pc.and_(pc.match_substring_regex(array, _PLAIN_NUMBER), pc.less_equal(pc.binary_length(array), 15))
    if array.null_count or not pc.all(pc.or_(plain, pc.equal(array, "")), min_count=0).as_py():
        return None
    numbers = np.full(len(array), np.nan)
    numbers[present] = pc.cast(array.filter(pa.array(present)), pa.float64()).to_numpy()
    if (np.signbit(numbers) & (numbers == 0)).any():
        return None
    return numbers


def _clean_decimal(raw, spec, ctx, column):
    array, present = _numbers(raw)
    finite = np.isfinite(array)
    too_large = finite & (np.abs(array) >= _MAX_AMOUNT)
    bad = present & (~finite | too_large)
    reason = np.where(too_large, "too large (at most 9,999,999,999.99)", "not a number (expected e.g. 1234.50)")
    return np.where(bad, np.nan, array), bad, reason


def _clean_int(raw, spec, ctx, column):
    array, present = _numbers(raw)
    whole = np.isfinite(array) & (array == np.round(array)) & (np.abs(array) < 2**31)
    bad = present & ~whole
    return np.where(bad, np.nan, array), bad, "not a whole number"


_TIME_ZONES = frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _clean_time_zone(raw, spec, ctx, column):
    text = _as_text(raw)
    bad = (text != "") & ~text.isin(_TIME_ZONES)
    return text, bad.to_numpy(dtype=bool), "not a time zone name (e.g. Europe/London)"


_CLEANERS = {
    "text": _clean_text,
    "key": _clean_text,
    "customer_key": _clean_customer_key,
    "email": _clean_email,
    "phone": _clean_phone,
    "bool": _clean_bool,
    "datetime": _clean_datetime,
    "decimal": _clean_decimal,
    "int": _clean_int,
    "time_zone": _clean_time_zone,
}


# --- Attributes: extra columns as one JSON object per row, built column-wise ---------------

_JSON_INTEGER = r"-?(?:0|[1-9]\d{0,15})"
_JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"


def _json_values(raw: pd.Series) -> pd.Series:
    """JSON text per cell, "" for an empty cell. Numbers stay numbers (int when whole),
    except spellings a number would not keep, like the leading zero of a zip code."""
    dtype = raw.dtype
    if pd.api.types.is_bool_dtype(dtype) and not raw.hasnans:
        return pd.Series(np.where(raw.to_numpy(dtype=bool), "true", "false"), index=raw.index, dtype="str")
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(_float_text(raw.to_numpy(dtype=float, na_value=np.nan)), index=raw.index, dtype="str")
    text = _as_text(raw)
    out = _json_strings(text)
    integer = text.str.fullmatch(_JSON_INTEGER).to_numpy(dtype=bool)
    out = out.where(~integer, text)
    number = text.str.fullmatch(_JSON_NUMBER).to_numpy(dtype=bool) & ~integer
    if number.any():
        out[number] = _float_text(pd.to_numeric(text[number]).to_numpy(dtype=float))
    return out.where(text != "", "")


def _json_strings(text: pd.Series) -> pd.Series:
    escaped = text
    if text.str.contains(r'["\\\x00-\x1f]', regex=True).any():
        escaped = text.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
        escaped = escaped.str.replace(r"[\x00-\x1f]", lambda m: f"\\u{ord(m.group()):04x}", regex=True)
    return '"' + escaped + '"'


def _json_objects(columns: dict[str, pd.Series]) -> pd.Series:
    body = None
    for name, raw in columns.items():
        value = _json_values(raw)
        piece = ("," + json.dumps(name) + ":" + value).where(value != "", "")
        body = piece if body is None else body + piece
    return "{" + body.str[1:] + "}"


# --- State across chunks ----------------------------------------------------------------


class _HashTable:
    """64-bit hashes of keys seen in earlier chunks, sorted, each with one integer.

    16 bytes a key, where a Python set of the id strings costs about 100: ten million
    order ids fit in 160 MB. Two different ids share a hash with odds of about one in
    10^8 for a million ids.
    """

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.uint64)
        self.values = np.empty(0, dtype=np.int64)

    def get(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, positions): ``values[positions][found]`` are the values of the keys found."""
        if not len(self.hashes):
            return np.zeros(len(hashes), dtype=bool), np.zeros(len(hashes), dtype=np.intp)
        positions = np.empty(len(hashes), dtype=np.intp)
        # Sorted needles walk the table in order (cache friendly): sorting first pays for itself.
        order = np.argsort(hashes)
        positions[order] = np.searchsorted(self.hashes, hashes[order])
        positions = np.minimum(positions, len(self.hashes) - 1)
        return self.hashes[positions] == hashes, positions

    def insert(self, hashes: np.ndarray, values: np.ndarray) -> None:
        """Add keys that are not in the table yet (unique among themselves)."""
        if not len(hashes):
            return
        # Merge the new keys in at their places rather than sort the whole table again:
        # each new key goes after the old ones below it, the old keys fill the other slots.
        order = np.argsort(hashes)
        hashes, values = hashes[order], values[order]
        slots = np.searchsorted(self.hashes, hashes) + np.arange(len(hashes))
        old = np.ones(len(self.hashes) + len(hashes), dtype=bool)
        old[slots] = False
        merged_hashes, merged_values = np.empty(len(old), dtype=np.uint64), np.empty(len(old), dtype=np.int64)
        merged_hashes[slots], merged_hashes[old] = hashes, self.hashes
        merged_values[slots], merged_values[old] = values, self.values
        self.hashes, self.values = merged_hashes, merged_values


def _hash(text) -> np.ndarray:
    return pd.util.hash_array(np.asarray(text, dtype=object), categorize=False, hash_key=_HASH_KEY)


class _FirstSeen:
    """For each key, the line where the file first had it: duplicates are rejected."""

    def __init__(self):
        self.table = _HashTable()

    def earlier_lines(self, keys: pd.Series, lines: np.ndarray, present: np.ndarray) -> np.ndarray:
        """The line of an earlier row with the same key, or 0 for a key's first row."""
        result = np.zeros(len(keys), dtype=np.int64)
        index = np.flatnonzero(present)
        if not len(index):
            return result
        hashes, at = _hash(keys.to_numpy(dtype=object)[index]), lines[index]
        found, positions = self.table.get(hashes)
        earlier = np.where(found, self.table.values[positions], 0) if len(self.table.values) else positions
        if pd.Index(hashes).is_unique:  # the usual chunk: no key twice, every row its own first
            first_here = at
        else:
            first_here = pd.Series(at).groupby(hashes).transform("min").to_numpy()
        result[index] = np.where(found, earlier, np.where(first_here < at, first_here, 0))
        new = ~found & (first_here == at)
        self.table.insert(hashes[new], at[new])
        return result


class _Occurrences:
    """How many times each row content has been seen: the n-th identical row gets id ...-n."""

    def __init__(self):
        self.table = _HashTable()

    def number(self, hashes: np.ndarray) -> np.ndarray:
        found, positions = self.table.get(hashes)
        before = np.where(found, self.table.values[positions], 0) if len(self.table.values) else positions
        occurrence = before + pd.Series(hashes).groupby(hashes).cumcount().to_numpy() + 1
        distinct, counts = np.unique(hashes, return_counts=True)
        found, positions = self.table.get(distinct)
        np.add.at(self.table.values, positions[found], counts[found])
        self.table.insert(distinct[~found], counts[~found])
        return occurrence


_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_NIBBLE_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def _hex(hashes: np.ndarray) -> np.ndarray:
    nibbles = ((hashes[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)).astype(np.intp)
    return np.ascontiguousarray(_HEX[nibbles]).view("S16").ravel().astype(str)


def _row_ids(chunk: pd.DataFrame, occurrences: _Occurrences) -> pd.Series:
    """Order ids for files without one: a hash of the row's cells (columns in name order)
    plus its number among identical rows, so importing a file twice finds the same ids."""
    names = sorted(chunk.columns)
    content = _as_text(chunk[names[0]])
    for name in names[1:]:
        content = content + "\x1f" + _as_text(chunk[name])
    hashes = _hash(content)
    occurrence = occurrences.number(hashes)
    ids = pd.Series(_hex(hashes), index=chunk.index, dtype="str")
    ids = "row-" + ids
    return ids.where(occurrence == 1, ids + "-" + pd.Series(occurrence, index=chunk.index).astype(str))


# --- Preparing chunks -------------------------------------------------------------------


class _Problems:
    """Rejected rows of one chunk, with a line, column, value and reason each."""

    def __init__(self, lines: np.ndarray):
        self.lines = lines
        self.bad = np.zeros(len(lines), dtype=bool)
        self._parts: list[pd.DataFrame] = []

    def add(self, mask, column: str, raw: pd.Series, reason) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        self._parts.append(
            pd.DataFrame(
                {
                    "line": self.lines[mask],
                    "column": column,
                    "value": _as_text(raw[mask]).to_numpy(dtype=object),
                    "reason": reason if isinstance(reason, str) else np.asarray(reason, dtype=object)[mask],
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({"line": [], "column": [], "value": [], "reason": []})
        return pd.concat(self._parts, ignore_index=True).sort_values("line", kind="stable")


def _earlier_reason(what: str, earlier: np.ndarray) -> np.ndarray | str:
    if not (earlier > 0).any():
        return ""  # nothing to report: skip building a million strings
    return np.char.add(f"duplicate {what}: already on line ", earlier.astype(str)).astype(object)


@dataclass
class _Prepared:
    rows: int = 0  # non-blank file rows read for this chunk
    skipped: int = 0
    rejected: int = 0
    errors: pd.DataFrame | None = None
    # (rows, columns to update on conflict: None = all, () = insert only)
    customers: list[tuple[pd.DataFrame, tuple[str, ...] | None]] = field(default_factory=list)
    orders: pd.DataFrame | None = None
    seconds: float = 0.0


class _Cleaned(dict):
    """Clean values per field; ``bad[field]`` marks the rows that field rejected."""

    def __init__(self):
        super().__init__()
        self.bad: dict[str, np.ndarray] = {}


def _clean(problems: _Problems, chunk: pd.DataFrame, plan: ColumnPlan, fields, ctx) -> _Cleaned:
    cleaned = _Cleaned()
    for name, column in plan.fields.items():
        spec = fields[name]
        values, bad, reason = _CLEANERS[spec.kind](chunk[column], spec, ctx, column)
        problems.add(bad, column, chunk[column], reason)
        cleaned[name], cleaned.bad[name] = values, np.asarray(bad, dtype=bool)
    return cleaned


def _require(problems, chunk, plan, cleaned: _Cleaned, name, what):
    """Reject rows whose required field is empty (and not already rejected as invalid)."""
    values = cleaned[name]
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        empty = (values == "").to_numpy(dtype=bool)
    else:
        empty = np.asarray(pd.isna(values), dtype=bool)
    empty = empty & ~cleaned.bad[name]
    column = plan.fields[name]
    problems.add(empty, column, chunk[column], f"missing {what}")
    return empty


class _CustomerRows:
    def __init__(self, plan: ColumnPlan, ctx: _Context):
        self.plan, self.ctx = plan, ctx
        self.seen = _FirstSeen()

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> _Prepared:
        problems = _Problems(lines)
        cleaned = _clean(problems, chunk, self.plan, CUSTOMER_FIELDS, self.ctx)
        missing = _require(problems, chunk, self.plan, cleaned, "external_id", "customer id")
        key_column = self.plan.fields["external_id"]
        earlier = self.seen.earlier_lines(cleaned["external_id"], lines, ~missing)
        problems.add(earlier > 0, key_column, chunk[key_column], _earlier_reason("customer id", earlier))
        if self.plan.extra:
            cleaned["attributes"] = _json_objects({c: chunk[c] for c in self.plan.extra})
        frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in cleaned.items()},
                             index=chunk.index)
        frame = frame[~problems.bad]
        return _Prepared(rejected=int(problems.bad.sum()), errors=problems.frame(), customers=[(frame, None)])


class _OrderRows:
    def __init__(self, plan: ColumnPlan, ctx: _Context):
        self.plan, self.ctx = plan, ctx
        self.seen = _FirstSeen()
        self.occurrences = _Occurrences()

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> _Prepared:
        plan, problems = self.plan, _Problems(lines)
        cleaned = _clean(problems, chunk, plan, ORDER_FIELDS, self.ctx)
        _require(problems, chunk, plan, cleaned, "customer_id", "customer id")
        _require(problems, chunk, plan, cleaned, "ordered_at", "order date")
        if "external_id" in plan.fields:
            ids = cleaned["external_id"]
            missing = _require(problems, chunk, plan, cleaned, "external_id", "order id")
            earlier = self.seen.earlier_lines(ids, lines, ~missing)
            column = plan.fields["external_id"]
            problems.add(earlier > 0, column, chunk[column], _earlier_reason("order id", earlier))
        else:
            ids = _row_ids(chunk, self.occurrences)

        n = len(chunk)
        amount = cleaned.get("amount", np.full(n, np.nan))
        quantity = cleaned.get("quantity")
        if quantity is not None and "unit_price" in cleaned:
            # Rounded like the shop's till would: per order, to the cent.
            amount = np.where(np.isnan(amount), np.round(quantity * cleaned["unit_price"], 2), amount)
        amount_column = plan.fields.get("amount") or plan.fields.get("unit_price")
        unknown = np.isnan(amount) & ~problems.bad
        problems.add(unknown, amount_column, chunk[amount_column], "missing amount")
        too_large = np.abs(np.nan_to_num(amount)) >= _MAX_AMOUNT
        problems.add(too_large & ~problems.bad, amount_column, chunk[amount_column], "amount too large")

        orders = {
            "external_id": ids,
            "customer_id": cleaned["customer_id"],
            "ordered_at": cleaned["ordered_at"],
            "amount": amount,
            # A file without a return flag still marks refunds: they are the negative amounts.
            "is_return": cleaned["is_return"] if "is_return" in cleaned else np.nan_to_num(amount) < 0,
        }
        if quantity is not None:
            orders["quantity"] = np.nan_to_num(quantity).astype(np.int64)
        if "coupon_code" in cleaned:
            orders["coupon_code"] = cleaned["coupon_code"]
        if plan.extra:
            orders["attributes"] = _json_objects({c: chunk[c] for c in plan.extra})
        frame = pd.DataFrame(orders, index=chunk.index)[~problems.bad]
        customers = pd.DataFrame({"external_id": frame["customer_id"].unique()})
        return _Prepared(
            rejected=int(problems.bad.sum()), errors=problems.frame(), orders=frame, customers=[(customers, ())]
        )


class _OnlineRetailRows:
    """Invoice lines grouped into one order per invoice.

    An invoice's lines must be next to each other. The last invoice of a chunk may go on in
    the next chunk, so it is held back and prepended to the next one.
    """

    def __init__(self, plan: ColumnPlan, ctx: _Context):
        self.plan, self.ctx = plan, ctx
        self.seen = _FirstSeen()
        self.carry: tuple[pd.DataFrame, np.ndarray] | None = None

    def prepare(self, chunk: pd.DataFrame, lines: np.ndarray, final: bool) -> _Prepared:
        plan = self.plan
        if self.carry is not None:
            chunk = pd.concat([self.carry[0], chunk], ignore_index=True)
            lines = np.concatenate([self.carry[1], lines])
            self.carry = None
        customer_column, invoice_column = plan.fields["customer_id"], plan.fields["external_id"]
        # Lines without a customer (about a quarter of the UCI data set) cannot be
        # attributed to anyone: counted as skipped, not as errors.
        no_customer = (_as_text(chunk[customer_column]) == "").to_numpy()
        skipped = int(no_customer.sum())
        chunk, lines = chunk[~no_customer].reset_index(drop=True), lines[~no_customer]

        # Runs of consecutive lines with the same invoice number.
        invoice = _as_text(chunk[invoice_column])
        run = np.cumsum((invoice != invoice.shift()).to_numpy())
        if not final and len(chunk):
            last = run == run[-1]
            self.carry = (chunk[last], lines[last])
            chunk, lines = chunk[~last].reset_index(drop=True), lines[~last]
            invoice, run = invoice[~last].reset_index(drop=True), run[~last]

        problems = _Problems(lines)
        no_invoice = (invoice == "").to_numpy()
        problems.add(no_invoice, invoice_column, chunk[invoice_column], "missing invoice number")
        cleaned = _clean(problems, chunk, plan, ONLINE_RETAIL_FIELDS, self.ctx)
        _require(problems, chunk, plan, cleaned, "ordered_at", "invoice date")
        _require(problems, chunk, plan, cleaned, "quantity", "quantity")
        _require(problems, chunk, plan, cleaned, "unit_price", "unit price")

        # An invoice with a rejected line is rejected whole: importing the other lines
        # would store a wrong total.
        never = np.iinfo(np.int64).max
        first_bad = pd.Series(np.where(problems.bad & ~no_invoice, lines, never)).groupby(run).transform("min")
        sibling = ~problems.bad & (first_bad.to_numpy() < never)
        reason = "another line of this invoice was rejected (line " + first_bad.astype(str) + ")"
        reason = reason.to_numpy(dtype=object)
        problems.add(sibling, invoice_column, chunk[invoice_column], reason)

        # An invoice number that comes back after other invoices: its lines are split up.
        head = ~no_invoice & (lines == pd.Series(lines).groupby(run).transform("min").to_numpy())
        earlier = np.zeros(len(chunk), dtype=np.int64)
        earlier[head] = self.seen.earlier_lines(
            invoice[head].reset_index(drop=True), lines[head], np.ones(int(head.sum()), dtype=bool)
        )
        earlier = pd.Series(earlier).groupby(run).transform("max")
        reason = (
            "invoice appears again after other invoices (first on line " + earlier.astype(str)
            + "); the lines of one invoice must be next to each other"
        ).to_numpy(dtype=object)
        problems.add((earlier.to_numpy() > 0) & ~problems.bad, invoice_column, chunk[invoice_column], reason)

        good = ~problems.bad
        line_total = cleaned["quantity"] * cleaned["unit_price"]
        lines_frame = pd.DataFrame(
            {
                "run": run[good],
                "external_id": invoice[good].to_numpy(dtype=object),
                "customer_id": cleaned["customer_id"][good].to_numpy(dtype=object),
                "ordered_at": cleaned["ordered_at"][good],
                "line_total": line_total[good],
                "quantity": cleaned["quantity"][good],
                "country": (cleaned["country"][good].to_numpy(dtype=object) if "country" in cleaned
                            else np.full(int(good.sum()), "", dtype=object)),
            }
        )
        grouped = lines_frame.groupby("run", sort=False)
        orders = grouped.agg(
            external_id=("external_id", "first"),
            customer_id=("customer_id", "first"),
            ordered_at=("ordered_at", "first"),
            amount=("line_total", "sum"),
            quantity=("quantity", "sum"),
            lines=("run", "size"),
        ).reset_index(drop=True)
        orders["amount"] = orders["amount"].round(2)
        orders["quantity"] = orders["quantity"].astype(np.int64)
        # Cancellations are invoices numbered C536379, with negative quantities.
        orders["is_return"] = orders["external_id"].astype(str).str.upper().str.startswith("C").to_numpy(dtype=bool)
        orders["attributes"] = '{"lines":' + orders.pop("lines").astype(str) + "}"
        too_large = orders["amount"].abs() >= _MAX_AMOUNT
        if too_large.any():
            heads_of_big = set(orders.loc[too_large, "external_id"])
            mask = good & invoice.isin(heads_of_big).to_numpy()
            problems.add(mask, invoice_column, chunk[invoice_column], "invoice total too large")
            orders = orders[~too_large]
        orders = orders.astype({"external_id": "str", "customer_id": "str"})

        with_country = lines_frame[lines_frame["country"] != ""]
        countries = with_country.drop_duplicates("customer_id", keep="last")[["customer_id", "country"]]
        countries = countries.rename(columns={"customer_id": "external_id"}).astype("str")
        others = pd.DataFrame({"external_id": orders["customer_id"].unique()})
        others = others[~others["external_id"].isin(countries["external_id"])]
        return _Prepared(
            skipped=skipped,
            rejected=int(problems.bad.sum()),
            errors=problems.frame(),
            orders=orders,
            customers=[(countries, ("country",)), (others, ())],
        )


def _prepared_chunks(source: _Source, preparer) -> Iterator[_Prepared]:
    """Number the lines (header = 1), drop blank rows, prepare chunk after chunk."""
    next_line = 2
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
        chunk = _normalised(current.reset_index(drop=True))
        lines = np.arange(next_line, next_line + len(chunk), dtype=np.int64)
        next_line += len(chunk)
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


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


@contextmanager
def _prefetched(iterator: Iterator, depth: int = 1):
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


# --- Writing ----------------------------------------------------------------------------


def _insert_defaults(model, columns) -> dict[str, object]:
    """Values for the columns a file does not have, on insert: the model's defaults, which
    live in Python, not in the database. JSON goes as its text, which COPY takes as it is
    and an INSERT casts; a NULL-able column needs none."""
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.column in columns or f.null:
            continue
        value = f.get_default()
        defaults[f.column] = json.dumps(value) if isinstance(f, models.JSONField) else value
    return defaults


def _upsert_defaults(model, columns) -> dict[str, object]:
    # The upsert sets created_at and updated_at itself.
    return _insert_defaults(model, [*columns, "created_at", "updated_at"])


_CUSTOMERS = Customer._meta.db_table
_ORDERS = Order._meta.db_table


def _write_customers(cursor, prepared: _Prepared, now, started) -> tuple[bulk.UpsertResult, int]:
    frame, update = prepared.customers[0]
    result = bulk.upsert_rows(
        cursor, table=_CUSTOMERS, key="external_id", rows=frame, now=now, update=update,
        merge_json=("attributes",), insert_defaults=_upsert_defaults(Customer, frame.columns),
    )
    return result, 0


def _write_orders(cursor, prepared: _Prepared, now, started) -> tuple[bulk.UpsertResult, int]:
    customers_created = 0
    for frame, update in prepared.customers:
        customers_created += _upsert_customers(cursor, frame, update, now).created
    frame = prepared.orders
    result = bulk.upsert_rows(
        cursor, table=_ORDERS, key="external_id", rows=frame, now=now,
        merge_json=("attributes",), insert_defaults=_upsert_defaults(Order, frame.columns),
        lookups={"customer_id": bulk.Lookup(table=_CUSTOMERS, key="external_id")},
        # Incremental re-segmentation finds changed customers by updated_at. Once per import
        # is enough: a customer with orders in every chunk is not rewritten ten times.
        touch="customer_id",
        touch_since=started,
    )
    return result, customers_created


def _upsert_customers(cursor, frame: pd.DataFrame, update, now) -> bulk.UpsertResult:
    return bulk.upsert_rows(cursor, table=_CUSTOMERS, key="external_id", rows=frame, now=now, update=update,
                            insert_defaults=_upsert_defaults(Customer, frame.columns))


class _ChunkWriter:
    """Every chunk in a transaction of its own: a crash keeps the chunks already done."""

    def __init__(self, write, *, dry_run: bool, started_at):
        self.write_chunk, self.dry_run, self.started_at = write, dry_run, started_at

    @contextmanager
    def session(self):
        yield

    def write(self, prepared: _Prepared) -> tuple[bulk.UpsertResult, int]:
        with transaction.atomic(), connection.cursor() as cursor:
            result = self.write_chunk(cursor, prepared, timezone.now(), self.started_at)
            if self.dry_run:
                transaction.set_rollback(True)
        return result


class _FirstOrderLoad(_ChunkWriter):
    """Orders into an empty order table (a shop's first import, usually its whole history).

    Done the way PostgreSQL's manual advises for populating a database ("Populating a
    Database": COPY, indexes and foreign keys created after the data is in): the order
    table's indexes and constraints (and foreign keys pointing at it) are dropped, the
    orders are COPYed straight in, and everything is built again at the end, each index in
    one sorted pass. Maintaining four B-trees and checking the key row by row cost 4 to 5
    times the load itself.

    The whole load is one transaction holding an exclusive lock on the order table
    (nothing reads an empty table) and, through its foreign key, on the customer table.
    DDL is transactional in PostgreSQL: a crash or an error rolls back to the empty table
    with its indexes, and re-running the file is safe. The import's own checks stand in
    for the dropped constraints while loading: ids duplicated in the file are rejected (the
    table was empty, so none is in the database), and every order's customer is found or
    given a key before its order is written. Building the unique index and validating the
    foreign key at the end check both again.
    """

    def __init__(self, write, *, dry_run: bool, started_at, updates_customers: bool):
        super().__init__(write, dry_run=dry_run, started_at=started_at)
        self.updates_customers = updates_customers
        self.bulk = False
        self.customers = _CustomerKeys(started_at)

    @staticmethod
    def applies(*, kind: str) -> bool:
        if kind != "orders" or connection.vendor != "postgresql":
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_ORDERS})")
            return cursor.fetchone()[0]

    @contextmanager
    def session(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {_ORDERS} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_ORDERS})")
            # Another import got in first: still correct, as one transaction of upserts.
            self.bulk = cursor.fetchone()[0]
            if self.bulk:
                rebuild = _drop_indexes(cursor, _ORDERS)
                # Dropping the foreign key locked the customer table too. When it is empty
                # every customer is new, and its indexes are built after them the same way
                # (not when customers get upserted: ON CONFLICT needs the unique index).
                cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_CUSTOMERS})")
                if cursor.fetchone()[0] and not self.updates_customers:
                    # Only this load writes customers now, at its end: none to look up.
                    self.customers.look_up = False
                    rebuild = _drop_indexes(cursor, _CUSTOMERS) + rebuild
            yield
            if self.bulk:
                self.customers.create(cursor, timezone.now())
                # More memory for the sorts of the index builds, for this transaction only.
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for statement in rebuild:
                    cursor.execute(statement)
                if self.customers.stale:
                    cursor.execute(
                        f"UPDATE {_CUSTOMERS} SET updated_at = %s WHERE id = ANY(%s) AND updated_at < %s",
                        [timezone.now(), self.customers.stale, self.started_at],
                    )
                # The planner's statistics, which autovacuum would otherwise gather a while later.
                cursor.execute(f"ANALYZE {_ORDERS}")
            if self.dry_run:
                transaction.set_rollback(True)

    def write(self, prepared: _Prepared) -> tuple[bulk.UpsertResult, int]:
        with connection.cursor() as cursor:
            now = timezone.now()
            if not self.bulk:
                return self.write_chunk(cursor, prepared, now, self.started_at)
            customers_created = self.customers.resolve(cursor, prepared, now)
            frame = prepared.orders
            rows = {column: frame[column] for column in frame.columns if column != "customer_pk"}
            rows["customer_id"] = frame["customer_pk"]
            rows.update(created_at=now, updated_at=now)
            rows.update(_insert_defaults(Order, rows))
            loaded = pd.DataFrame(rows, index=frame.index)[_ORDER_COLUMNS]
            bulk.copy_rows(cursor, _ORDERS, _ORDER_COLUMNS, loaded)
            return bulk.UpsertResult(len(loaded), 0, 0), customers_created


_ORDER_COLUMNS = [f.column for f in Order._meta.concrete_fields if not f.primary_key]


class _CustomerKeys:
    """The customers of a first load and their primary keys, which the orders are COPYed
    with: no join in SQL, no foreign key checked row by row.

    A new customer gets its key from the table's sequence at once, and is written at the
    end of the load in one COPY with the others. Nobody else can write customers meanwhile:
    dropping the orders' foreign key locks the customer table against writes until the
    load commits. So reading which customers exist, from any connection, stays true.
    """

    def __init__(self, started_at):
        self.started_at = started_at
        # Every customer this import has orders for: external ids and primary keys.
        self.known_keys, self.known_pks = pa.array([], type=pa.string()), np.empty(0, dtype=np.int64)
        self.new_keys: list[pa.Array] = []  # customers to create at the end, with their keys
        self.new_pks: list[np.ndarray] = []
        self.stale: list[int] = []  # customers from before the import, whose updated_at needs a bump
        self.sequence: str | None = None
        self.look_up = True  # False: the customer table is empty, nobody else can write it

    def resolve(self, cursor, prepared: _Prepared, now) -> int:
        """Add the primary key of each order's customer to the chunk's orders as
        ``customer_pk``. Returns how many customers are new."""
        created = 0
        for frame, update in prepared.customers:
            if update:  # columns the file sets (online retail's country): upserted whether new or not
                created += _upsert_customers(cursor, frame, update, now).created
        # Each distinct customer id once: the lookups below probe 60,000 ids, not 100,000.
        encoded = pc.dictionary_encode(pa.array(prepared.orders["customer_id"], type=pa.string(), from_pandas=True))
        distinct = encoded.dictionary
        unknown = distinct.filter(pc.is_null(pc.index_in(distinct, value_set=self.known_keys)))
        if len(unknown) and self.look_up:
            cursor.execute(
                f"SELECT external_id, id, updated_at < %s FROM {_CUSTOMERS} WHERE external_id = ANY(%s)",
                [self.started_at, unknown.to_pylist()],
            )
            found = cursor.fetchall()
            if found:
                keys, pks, stale = zip(*found)
                self._remember(pa.array(keys, type=pa.string()), np.asarray(pks, dtype=np.int64))
                self.stale.extend(pk for pk, old in zip(pks, stale) if old)  # bumped at the end
                unknown = unknown.filter(pc.invert(pc.is_in(unknown, value_set=pa.array(keys, type=pa.string()))))
        if len(unknown):
            if self.sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [_CUSTOMERS])
                self.sequence = cursor.fetchone()[0]
            # One value at a time, as every insert takes them: safe whoever else draws from it.
            # One row back (text, split by NumPy) rather than a row per key: 20 ms, not 300.
            cursor.execute("SELECT string_agg(nextval(%s::regclass)::text, ',') FROM generate_series(1, %s)",
                           [self.sequence, len(unknown)])
            pks = np.array(cursor.fetchone()[0].split(","), dtype=np.int64)
            self._remember(unknown, pks)
            self.new_keys.append(unknown)
            self.new_pks.append(pks)
            created += len(unknown)
        at = self._positions(distinct)
        if (at < 0).any():  # cannot happen: every customer was found or given a key
            raise RuntimeError(f"customer {distinct.filter(pa.array(at < 0))[0]!r} was neither found nor given a key")
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        prepared.orders = prepared.orders.assign(customer_pk=self.known_pks[at][indices])
        return created

    def create(self, cursor, now) -> None:
        """COPY the new customers in: batched, where INSERT ... ON CONFLICT writes row by row
        (5 us a customer with its five indexes). In key order, which the unique index of
        external ids takes faster than random order."""
        if not self.new_keys:
            return
        keys = pa.concat_arrays(self.new_keys)
        order = pc.sort_indices(keys).to_numpy()
        rows = {"id": np.concatenate(self.new_pks)[order],
                "external_id": keys.take(pa.array(order)).to_pandas().astype("str"),
                "created_at": now, "updated_at": now}
        rows.update(_insert_defaults(Customer, rows))
        bulk.copy_rows(cursor, _CUSTOMERS, list(rows), pd.DataFrame(rows))

    def _positions(self, keys: pa.Array) -> np.ndarray:
        """Where each customer id is in ``known_keys``, -1 if not there. Arrow's hash lookup:
        a few milliseconds for 100,000 ids, where a pandas string Index takes 30."""
        return pc.index_in(keys, value_set=self.known_keys).fill_null(-1).to_numpy(zero_copy_only=False)

    def _remember(self, keys: pa.Array, pks: np.ndarray) -> None:
        self.known_keys = pa.concat_arrays([self.known_keys, keys])
        self.known_pks = np.concatenate([self.known_pks, pks])


def _drop_indexes(cursor, table: str) -> list[str]:
    """Drop a table's indexes and constraints (and foreign keys that point at it); return
    the SQL that builds them again, read from the catalog so that it matches what the
    migrations made."""
    cursor.execute(
        # Own constraints and other tables' foreign keys to it, in the order they can be
        # dropped: foreign keys, then unique, then the primary key they may rest on.
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE (conrelid = %s::regclass AND contype IN ('p', 'u', 'f')) "
        "OR (confrelid = %s::regclass AND contype = 'f') "
        "ORDER BY CASE contype WHEN 'f' THEN 0 WHEN 'u' THEN 1 ELSE 2 END, 1, 2",
        [table, table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [table],
    )
    indexes = cursor.fetchall()
    for owner, name, _definition, _kind in constraints:
        cursor.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    add = {kind: [f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}'
                  for owner, name, definition, k in reversed(constraints) if k == kind] for kind in "puf"}
    # Keys first, then the plain indexes, then the foreign keys (validated against them).
    return [*add["p"], *add["u"], *(definition for _name, definition in indexes), *add["f"]]


def _run(*, kind, source, fields, required, preparer_class, writer, mapping, encoding, date_format, dry_run,
         progress) -> ImportReport:
    started = time.perf_counter()
    started_at = timezone.now()
    ctx = _Context(time_zone=settings.TIME_ZONE, phone_region=settings.PHONE_DEFAULT_REGION, date_format=date_format)
    opened = _open_source(source, encoding=encoding, chunk_rows=settings.IMPORT_CHUNK_ROWS)
    report = ImportReport(kind=kind, encoding=opened.encoding, dry_run=dry_run)
    timings = {"prepare": 0.0, "write": 0.0, "wait": 0.0}
    try:
        plan = plan_columns(opened.columns, fields, mapping, required=required)
        preparer = preparer_class(plan, ctx)
        if _FirstOrderLoad.applies(kind=kind):
            chunk_writer = _FirstOrderLoad(writer, dry_run=dry_run, started_at=started_at,
                                           updates_customers=preparer_class is _OnlineRetailRows)
        else:
            chunk_writer = _ChunkWriter(writer, dry_run=dry_run, started_at=started_at)
        broken = None
        with _prefetched(_prepared_chunks(opened, preparer)) as chunks, chunk_writer.session():
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
                    report._add_errors(prepared.errors)
                    if progress is not None:
                        progress(report.rows)
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
    report.first_load = isinstance(chunk_writer, _FirstOrderLoad) and chunk_writer.bulk
    report.seconds = time.perf_counter() - started
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    return report


def import_customers(
    *,
    source,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert customers on external_id from a CSV path, binary file or iterable of DataFrames.

    Only the columns the file has are written (a file without phones never blanks them);
    columns that are not customer fields are merged into Customer.attributes. Raises
    ImportFileError when the file as a whole cannot be imported.
    """
    return _run(
        kind="customers", source=source, fields=CUSTOMER_FIELDS, required=_REQUIRED_CUSTOMER,
        preparer_class=_CustomerRows, writer=_write_customers, mapping=mapping, encoding=encoding,
        date_format=None, dry_run=dry_run, progress=progress,
    )


def import_orders(
    *,
    source,
    format: str = "default",
    mapping: dict[str, str] | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert orders on external_id, creating customers the database does not know yet.

    ``format="online-retail"`` reads invoice lines (InvoiceNo, StockCode, Description,
    Quantity, InvoiceDate, UnitPrice, CustomerID, Country) into one order per invoice.
    """
    if format not in FORMATS:
        raise ImportFileError(f"Unknown format {format!r}; the formats are: {', '.join(FORMATS)}.")
    online_retail = format == "online-retail"
    return _run(
        kind="orders", source=source,
        fields=ONLINE_RETAIL_FIELDS if online_retail else ORDER_FIELDS,
        required=_REQUIRED_ONLINE_RETAIL if online_retail else _REQUIRED_ORDER,
        preparer_class=_OnlineRetailRows if online_retail else _OrderRows,
        writer=_write_orders, mapping=mapping, encoding=encoding, date_format=date_format, dry_run=dry_run,
        progress=progress,
    )


# --- Import jobs (admin upload) ---------------------------------------------------------


def import_job_create(*, kind: str, upload, options: dict, created_by=None) -> ImportJob:
    """Save an uploaded file under MEDIA_ROOT/imports/ and queue its import."""
    from segments.tasks_import import import_job_task

    job = ImportJob(kind=kind, options=options, original_name=Path(upload.name).name[:255], created_by=created_by)
    job.file.save(Path(upload.name).name, upload, save=False)
    job.rows_total = _count_rows(job.file.path)
    job.save()
    transaction.on_commit(partial(import_job_task.delay, job_id=job.id))
    return job


def _count_rows(path) -> int:
    """Data lines in the file (newlines minus the header), for the progress bar."""
    count, last = 0, b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return max(count - 1 + (last != b"\n"), 0)


def import_job_run(*, job: ImportJob) -> ImportReport:
    """Run a queued job's import, recording progress on the job as chunks complete."""

    side = None

    def progress(rows: int) -> None:
        nonlocal side
        if not (connection.in_atomic_block and connection.vendor == "postgresql"):
            ImportJob.objects.filter(pk=job.pk).update(rows_processed=rows)
            return
        # A first load of orders is one transaction (_FirstOrderLoad): an update made in it
        # would show on the job page only at the end. A connection of its own commits now.
        if side is None:
            side = connections.create_connection(DEFAULT_DB_ALIAS)
        with side.cursor() as cursor:
            cursor.execute(f"UPDATE {ImportJob._meta.db_table} SET rows_processed = %s WHERE id = %s", [rows, job.pk])

    try:
        return _import_job_run(job, progress)
    finally:
        if side is not None:
            side.close()


def _import_job_run(job: ImportJob, progress) -> ImportReport:
    options = job.options
    common = dict(
        source=job.file.path,
        mapping=options.get("mapping") or None,
        encoding=options.get("encoding") or None,
        dry_run=bool(options.get("dry_run")),
        progress=progress,
    )
    if job.kind == ImportJob.Kind.CUSTOMERS:
        return import_customers(**common)
    return import_orders(format=options.get("format") or "default", date_format=options.get("date_format") or None,
                         **common)
