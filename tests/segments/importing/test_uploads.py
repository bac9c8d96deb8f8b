"""Uploads: the size limit, and the temporary file that stops growing past it."""

import os
import stat

from django.core.files.uploadedfile import SimpleUploadedFile

from segments.importing.uploads import (
    MB,
    CappedTemporaryFileUploadHandler,
    upload_size_problem,
)


def test_a_file_over_the_limit_is_refused_naming_the_limit_and_the_setting(settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1

    small = SimpleUploadedFile("a.csv", b"x" * MB)
    large = SimpleUploadedFile("b.csv", b"x" * (MB + MB // 2))

    assert upload_size_problem(small) is None
    assert upload_size_problem(large) == (
        "This file is 1.5 MB; the largest file you can import is 1 MB (the IMPORT_MAX_UPLOAD_MB setting). "
        "Split it into smaller files and import them one after another."
    )


def test_the_temporary_upload_is_private_and_stops_growing_past_the_limit(settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    handler = CappedTemporaryFileUploadHandler()
    handler.new_file("file", "big.csv", "text/csv", 3 * MB)

    for start in range(0, 3 * MB, 64 * 1024):
        handler.receive_data_chunk(b"x" * (64 * 1024), start)
    upload = handler.file_complete(3 * MB)

    path = upload.temporary_file_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.path.getsize(path) == MB  # what was written; the rest was only counted
    assert upload.size == 3 * MB and upload_size_problem(upload) is not None
    upload.close()
