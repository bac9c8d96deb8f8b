"""The canonical fields of each file kind and format, and matching a file's columns to them.

A field has a kind (which cleaner reads it, see cleaning.CLEANERS), a maximum length and
the other column names that mean it. plan_columns resolves a file's header to fields: a
mapping given by the user first, then names and aliases compared without case, spaces or
punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from segments.importing.report import ImportFileError


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # a key of cleaning.CLEANERS
    max_length: int | None = None
    aliases: tuple[str, ...] = ()  # other column names that mean this field (compared without case or punctuation)
    # An invalid value of an optional field is left empty with a warning and the row is kept;
    # one of a required field (ids, dates, amounts) rejects the row.
    optional: bool = False


CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec(
        "customer_key", 64,
        ("customer_id", "customer", "id", "customer_number", "customer_no", "client_id", "contact_id"),
    ),
    "email": FieldSpec("email", 254, ("email_address", "e_mail", "mail"), optional=True),
    "phone": FieldSpec(
        "phone", 20, ("phone_number", "mobile", "mobile_phone", "mobile_number", "telephone", "tel", "cell"),
        optional=True,
    ),
    "first_name": FieldSpec("text", 100, ("firstname", "given_name", "forename"), optional=True),
    "last_name": FieldSpec("text", 100, ("lastname", "surname", "family_name"), optional=True),
    "country": FieldSpec("text", 64, ("country_code", "country_name"), optional=True),
    "time_zone": FieldSpec("time_zone", 64, ("timezone", "tz"), optional=True),
    "locale": FieldSpec("text", 16, ("language", "lang"), optional=True),
    "email_consent": FieldSpec(
        "bool", None, ("email_opt_in", "email_optin", "accepts_email_marketing", "newsletter"), optional=True
    ),
    "email_consent_at": FieldSpec("datetime", None, ("email_opt_in_at", "email_consent_date"), optional=True),
    "email_consent_source": FieldSpec("text", 32, optional=True),
    "sms_consent": FieldSpec("bool", None, ("sms_opt_in", "sms_optin", "accepts_sms_marketing"), optional=True),
    "sms_consent_at": FieldSpec("datetime", None, ("sms_opt_in_at", "sms_consent_date"), optional=True),
    "sms_consent_source": FieldSpec("text", 32, optional=True),
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
    "coupon_code": FieldSpec(
        "text", 64, ("coupon", "discount_code", "promo_code", "voucher", "voucher_code"), optional=True
    ),
}

# The UCI "Online Retail" shape (and "Online Retail II": Invoice, Price, Customer ID): one row
# per invoice line.
ONLINE_RETAIL_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec("key", 64, ("invoiceno", "invoice", "invoice_no")),
    "customer_id": FieldSpec("customer_key", 64, ("customerid", "customer")),
    "ordered_at": FieldSpec("datetime", None, ("invoicedate", "invoice_date")),
    "quantity": FieldSpec("int", None, ("qty",)),
    "unit_price": FieldSpec("decimal", None, ("unitprice", "price")),
    "country": FieldSpec("text", 64, (), optional=True),
}

FORMATS = ("default", "online-retail")

# Alternatives: one of the tuples must be mapped in full.
_REQUIRED_CUSTOMER = ((("external_id",),),)
_REQUIRED_ORDER = ((("customer_id",),), (("ordered_at",),), (("amount",), ("quantity", "unit_price")))
_REQUIRED_ONLINE_RETAIL = tuple(((f,),) for f in ("external_id", "customer_id", "ordered_at", "quantity", "unit_price"))

MAX_AMOUNT = 1e10  # Order.amount is numeric(12, 2)


def fields_for(kind: str, format: str = "default") -> dict[str, FieldSpec]:
    """The canonical fields of a file kind ("customers" or "orders") and format."""
    if kind == "customers":
        return CUSTOMER_FIELDS
    return ONLINE_RETAIL_FIELDS if format == "online-retail" else ORDER_FIELDS


def required_for(kind: str, format: str = "default") -> tuple:
    """The fields a file of that kind and format must have, for plan_columns."""
    if kind == "customers":
        return _REQUIRED_CUSTOMER
    return _REQUIRED_ONLINE_RETAIL if format == "online-retail" else _REQUIRED_ORDER


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
