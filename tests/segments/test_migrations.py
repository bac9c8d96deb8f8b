"""Data migrations: what they do to the rows and files a running shop already has."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from segments.models import ImportJob
from segments.storage import DatabaseStorage

BEFORE = [("segments", "0004_job_lifecycle")]
AFTER = [("segments", "0005_uploads_stored_in_the_database")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_uploads_move_from_media_root_into_the_database_and_those_of_ended_jobs_go(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    folder = tmp_path / "imports" / "2026" / "10"
    folder.mkdir(parents=True)
    (folder / "waiting.csv").write_bytes(b"external_id\nK1\n")
    (folder / "done.csv").write_bytes(b"external_id\nK2\n")
    try:
        old = migrate(BEFORE).get_model("segments", "ImportJob")
        old.objects.create(kind="customers", file="imports/2026/10/waiting.csv", status="queued")
        old.objects.create(kind="customers", file="imports/2026/10/done.csv", status="succeeded")
        old.objects.create(kind="customers", file="imports/2026/10/lost.csv", status="queued")

        migrate(AFTER)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    waiting, done, lost = ImportJob.objects.order_by("pk")
    assert waiting.file.name == "imports/2026/10/waiting.csv"
    assert DatabaseStorage().open(waiting.file.name).read() == b"external_id\nK1\n"
    assert done.file.name == ""
    assert lost.file.name == "imports/2026/10/lost.csv"  # no file to move: the job fails when it runs
    assert list(folder.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_live_segments_that_share_a_name_are_numbered_before_names_become_unique():
    try:
        old = migrate([("segments", "0007_run_warnings")]).get_model("segments", "Segment")
        for key, name, live in (("a", "Loyal", True), ("b", "loyal", True), ("c", "Loyal", False), ("d", "New", True)):
            old.objects.create(key=key, name=name, algorithm="kmeans", is_active=live)

        new = migrate([("segments", "0008_live_segment_names_unique")]).get_model("segments", "Segment")
        names = dict(new.objects.values_list("key", "name"))
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert names == {"a": "Loyal", "b": "loyal 2", "c": "Loyal", "d": "New"}
