"""Files kept in the database (segments.storage.DatabaseStorage), where every worker reads them."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from segments.models import StoredFileChunk
from segments.storage import DatabaseStorage

pytestmark = pytest.mark.django_db

CONTENT = b"external_id,email\n" + b"".join(b"C%04d,c%d@example.com\n" % (n, n) for n in range(100))


def test_a_file_is_stored_in_chunks_and_read_back_whole():
    storage = DatabaseStorage(chunk_bytes=100)

    name = storage.save("imports/2026/11/customers.csv", ContentFile(CONTENT))

    with storage.open(name) as stored:
        read = stored.read()
    assert name == "imports/2026/11/customers.csv"
    assert read == CONTENT
    assert StoredFileChunk.objects.filter(name=name).count() == -(-len(CONTENT) // 100)
    assert storage.size(name) == len(CONTENT)
    assert storage.exists(name)


def test_a_file_is_read_in_blocks_of_any_size():
    storage = DatabaseStorage(chunk_bytes=64)
    name = storage.save("a.csv", ContentFile(CONTENT))

    with storage.open(name) as stored:
        blocks = list(iter(lambda: stored.read(50), b""))

    assert b"".join(blocks) == CONTENT
    assert {len(block) for block in blocks[:-1]} == {50}


def test_a_second_file_of_the_same_name_gets_a_name_of_its_own():
    storage = DatabaseStorage()

    first = storage.save("imports/c.csv", ContentFile(b"one"))
    second = storage.save("imports/c.csv", ContentFile(b"two"))

    assert first != second and second.startswith("imports/c_")
    assert storage.open(first).read() == b"one" and storage.open(second).read() == b"two"


def test_an_empty_file_exists_and_reads_empty():
    storage = DatabaseStorage()

    name = storage.save("empty.csv", ContentFile(b""))

    assert storage.exists(name) and storage.size(name) == 0
    assert storage.open(name).read() == b""


def test_a_deleted_file_is_gone():
    storage = DatabaseStorage(chunk_bytes=100)
    name = storage.save("gone.csv", ContentFile(CONTENT))

    storage.delete(name)

    assert not storage.exists(name) and not StoredFileChunk.objects.exists()
    with pytest.raises(FileNotFoundError):
        storage.open(name)


def test_files_are_listed_by_folder_and_dated():
    storage = DatabaseStorage()
    for name in ("imports/2026/10/a.csv", "imports/2026/11/b.csv", "imports/c.csv", "other.csv"):
        storage.save(name, ContentFile(b"x"))

    assert storage.listdir("imports") == (["2026"], ["c.csv"])
    assert storage.listdir("imports/2026/11/") == ([], ["b.csv"])
    assert storage.listdir("") == (["imports"], ["other.csv"])
    assert timezone.now() - storage.get_modified_time("other.csv") < dt.timedelta(minutes=1)


def test_stored_files_are_read_only_and_have_no_path():
    storage = DatabaseStorage()
    name = storage.save("c.csv", ContentFile(b"x"))

    with pytest.raises(ValueError, match="read-only"):
        storage.open(name, "wb")
    with pytest.raises(NotImplementedError):
        storage.path(name)
