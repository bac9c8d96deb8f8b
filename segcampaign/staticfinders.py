"""plotly.js as the static file plotly/plotly.min.js: from the installed plotly package, nothing else of it.

The admin must work without internet, so plotly.js (4.8 MB) comes from the plotly package rather
than a CDN. Its package_data folder also holds a 5 MB widget bundle and sample data sets that no
page uses; this finder offers collectstatic the one file.

In production collectstatic copies it, and whitenoise's CompressedManifestStaticFilesStorage
writes a hashed name and a .gz beside it, served with a year's cache (settings.STORAGES). In
development whitenoise serves files straight from the finders; so that it has a gzip variant
there too (1.4 MB instead of 4.8), the finder keeps a copy of the file and its .gz in
PLOTLY_CACHE_DIR, made once per plotly version, and answers with that copy. Where that folder
cannot be written, it answers with the package's own file, uncompressed.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
from pathlib import Path

import plotly
from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

logger = logging.getLogger(__name__)

PREFIX = "plotly"
NAME = "plotly.min.js"
SOURCE = Path(plotly.__file__).resolve().parent / "package_data" / NAME


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(SOURCE.parent))
        self.storage.prefix = PREFIX
        self._served: Path | None = None

    def check(self, **kwargs):
        if not SOURCE.is_file():
            return [Error(f"plotly.js is missing from the plotly package: {SOURCE}", id="segcampaign.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != f"{PREFIX}/{NAME}" or not SOURCE.is_file():
            return []  # what Django's finders answer for "not here", whether one or all are asked for
        found = str(self.served())
        return [found] if find_all else found

    def list(self, ignore_patterns):
        # collectstatic: the package's file (the storage compresses its own copy).
        if SOURCE.is_file():
            yield NAME, self.storage

    def served(self) -> Path:
        """The copy beside its .gz in PLOTLY_CACHE_DIR (made the first time), else the package's file."""
        if self._served is None:
            self._served = compressed_copy(Path(settings.PLOTLY_CACHE_DIR) / plotly.__version__)
        return self._served


def compressed_copy(folder: Path) -> Path:
    """plotly.min.js and plotly.min.js.gz in `folder`, written once (atomically), or the source file."""
    target = folder / NAME
    if target.is_file() and Path(f"{target}.gz").is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, write in ((f"{NAME}.gz", _write_gzip), (NAME, _write_copy)):
            # A temporary name, then a rename: a second process never serves half a file.
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".part-")
            os.close(handle)
            write(Path(temporary))
            os.chmod(temporary, 0o644)  # mkstemp makes it 0600: any user running the server reads it
            os.replace(temporary, folder / name)
    except OSError as exc:
        logger.warning("plotly.js is served uncompressed: %s cannot be written (%s)", folder, exc)
        return SOURCE
    return target


def _write_copy(path: Path) -> None:
    shutil.copyfile(SOURCE, path)


def _write_gzip(path: Path) -> None:
    with SOURCE.open("rb") as source, gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as target:
        shutil.copyfileobj(source, target)
