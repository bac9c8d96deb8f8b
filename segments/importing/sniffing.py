"""Is an uploaded file a CSV text file at all? Judged from its name and its first bytes.

What the upload form refuses before a file is stored: a spreadsheet workbook (it must be
saved as CSV first), a file with another extension, binary data. Django-free: the form
hands in the name and the bytes.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import PurePath

# How much of the file is looked at.
SNIFF_BYTES = 64 * 1024
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".numbers")
# Workbooks are ZIP archives (xlsx, ods, numbers) or OLE2 compound files (xls).
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
# Text has at most a stray control character (a NUL in one cell is the importer's to report
# on its row); binary data has them everywhere.
MAX_CONTROL_SHARE = 0.01
SAVE_AS_CSV = "save it as CSV first (in Excel: File → Save As → \"CSV UTF-8 (Comma delimited)\") and upload that"


def upload_problem(name: str, head: bytes, *, encoding: str | None = None) -> str | None:
    """Why a file named `name` that starts with `head` cannot be imported; None when it looks like CSV.

    `encoding` is the one the person chose, if any; otherwise the importer's guesses are tried
    (a byte order mark, UTF-8, Windows-1252).
    """
    extension = PurePath(name).suffix.lower()
    if extension in WORKBOOK_EXTENSIONS or head.startswith(WORKBOOK_MAGIC):
        return f"This is a spreadsheet workbook, not a CSV file: {SAVE_AS_CSV}."
    if extension not in TEXT_EXTENSIONS:
        shown = f"a {extension} file" if extension else "a file without an extension"
        return f"Only CSV text files can be imported (.csv, .txt or .tsv); this is {shown}."
    text = _decoded(head, encoding)
    if text is None:
        return f"This file cannot be read as {encoding}: choose another text encoding, or let us detect it."
    controls = sum(1 for char in text if char not in "\t\n\r\f" and unicodedata.category(char) == "Cc")
    if controls > MAX_CONTROL_SHARE * max(len(text), 1):
        return f"This file holds binary data, not text: is it really a CSV file? From a spreadsheet, {SAVE_AS_CSV}."
    return None


def _decoded(head: bytes, encoding: str | None) -> str | None:
    """The text of `head` (its last character may be cut in two), or None when it cannot be decoded.

    Without a chosen encoding this never fails, as the importer never does: what is not UTF-8
    is read as Windows-1252, and the control characters tell text from binary data.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    for candidate, errors in ([(encoding, "strict")] if encoding else [("utf-8-sig", "strict"), ("cp1252", "replace")]):
        try:
            return codecs.getincrementaldecoder(candidate)(errors).decode(head, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
    return None
