"""Uploaded import files: how large they may be and what they must be, checked before they are stored.

Uploads are customers' personal data: the form refuses what is too large or not CSV text
(sniffing.py judges the bytes), and the job's file is deleted once the job ends (jobs.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from segments.importing.sniffing import SNIFF_BYTES, upload_problem

MB = 1024 * 1024


def upload_size_problem(upload: UploadedFile) -> str | None:
    """Why the file is too large to import (IMPORT_MAX_UPLOAD_MB); None when it is not."""
    limit = settings.IMPORT_MAX_UPLOAD_MB
    if upload.size <= limit * MB:
        return None
    return (
        f"This file is {upload.size / MB:,.1f} MB; the largest file you can import is {limit} MB "
        "(the IMPORT_MAX_UPLOAD_MB setting). Split it into smaller files and import them one after another."
    )


def upload_content_problem(upload: UploadedFile, *, encoding: str | None) -> str | None:
    """Why the file is not a CSV text file, from its name and first bytes; None when it looks like one."""
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return upload_problem(upload.name or "", head, encoding=encoding)


class CappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's upload to a temporary file (mode 0600, as tempfile makes it), which stops writing
    past IMPORT_MAX_UPLOAD_MB: an upload far too large never fills the disk, and the form still
    learns its size and says why it is refused."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= settings.IMPORT_MAX_UPLOAD_MB * MB:
            self.file.write(raw_data)
