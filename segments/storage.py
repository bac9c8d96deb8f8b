"""Files kept in the database, where every web process and worker reads them, on any machine.

Uploads go here by default (STORAGES["imports"]): a worker on another machine than the web
process that stored an upload still finds it, with nothing to share but the database. A file
is a few rows of StoredFileChunk (CHUNK_BYTES each), written in one transaction and read back
one row at a time, so a large file never sits in memory whole.
"""

from __future__ import annotations

import io

from django.core.files import File
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.db.models import Min, Sum
from django.db.models.functions import Length
from django.utils.deconstruct import deconstructible

from segments.models import StoredFileChunk

CHUNK_BYTES = 1 << 20
# Chunks sent per INSERT: a few megabytes per statement.
CHUNKS_PER_QUERY = 8


@deconstructible(path="segments.storage.DatabaseStorage")
class DatabaseStorage(Storage):
    """A Django storage backend whose files are rows of the database; read-only once saved.

    It has no path() (a file is not on any disk) and no url() (nobody downloads uploads).
    """

    def __init__(self, chunk_bytes: int = CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes

    def _save(self, name: str, content) -> str:
        for _ in range(5):
            try:
                with transaction.atomic():
                    self._write(name, content)
                return name
            except IntegrityError:
                # Another upload took the name between get_available_name() and now.
                name = self.get_available_name(name)
        raise OSError(f"could not find a free name for {name!r} in the database storage")

    def _write(self, name: str, content) -> None:
        content.seek(0)
        batch, index = [], 0
        for piece in _pieces(content, self.chunk_bytes):
            batch.append(StoredFileChunk(name=name, index=index, data=piece))
            index += 1
            if len(batch) == CHUNKS_PER_QUERY:
                StoredFileChunk.objects.bulk_create(batch)
                batch = []
        if index == 0:  # an empty file is still a file
            batch.append(StoredFileChunk(name=name, index=0, data=b""))
        StoredFileChunk.objects.bulk_create(batch)

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode not in {"r", "rb"}:
            raise ValueError(f"files in the database storage are read-only, not opened with {mode!r}")
        count = StoredFileChunk.objects.filter(name=name).count()
        if not count:
            raise FileNotFoundError(f"no file {name!r} in the database storage")
        return File(io.BufferedReader(_ChunkReader(name, count), buffer_size=self.chunk_bytes), name=name)

    def delete(self, name: str) -> None:
        StoredFileChunk.objects.filter(name=name).delete()

    def exists(self, name: str) -> bool:
        return StoredFileChunk.objects.filter(name=name).exists()

    def size(self, name: str) -> int:
        return StoredFileChunk.objects.filter(name=name).aggregate(size=Sum(Length("data")))["size"] or 0

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = f"{path.rstrip('/')}/" if path else ""
        directories, files = set(), set()
        for name in StoredFileChunk.objects.filter(name__startswith=prefix, index=0).values_list("name", flat=True):
            head, _, rest = name[len(prefix):].partition("/")
            (directories if rest else files).add(head)
        return sorted(directories), sorted(files)

    def get_created_time(self, name: str):
        created = StoredFileChunk.objects.filter(name=name).aggregate(first=Min("created_at"))["first"]
        if created is None:
            raise FileNotFoundError(f"no file {name!r} in the database storage")
        return created

    get_modified_time = get_created_time  # files are never changed once saved


def _pieces(content, size: int):
    """`content` regrouped into pieces of `size` bytes (the last one shorter)."""
    pending = bytearray()
    for block in content.chunks():
        pending += block
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class _ChunkReader(io.RawIOBase):
    """A stored file read one chunk (one query) at a time."""

    def __init__(self, name: str, count: int):
        self._name, self._count, self._next = name, count, 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            if self._next >= self._count:
                return 0
            data = StoredFileChunk.objects.values_list("data", flat=True).get(name=self._name, index=self._next)
            self._pending, self._next = memoryview(bytes(data)), self._next + 1
        taken = min(len(buffer), len(self._pending))
        buffer[:taken] = self._pending[:taken]
        self._pending = self._pending[taken:]
        return taken
