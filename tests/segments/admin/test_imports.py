"""Import admin: the upload page, a job's page (Celery eager, no broker, as in the embedded setup), past imports."""

import datetime
import stat
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from segments.models import Customer, ImportJob, Order, StoredFileChunk
from segments.tasks import import_job_task

pytestmark = pytest.mark.django_db

CUSTOMERS_URL = reverse("admin:segments_customer_changelist")
ORDERS_URL = reverse("admin:segments_order_changelist")

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media):
    """Uploads kept anywhere: in the database (STORAGES["imports"]) or under MEDIA_ROOT."""
    on_disk = [str(path) for path in (media / "imports").rglob("*") if path.is_file()]
    return sorted({*StoredFileChunk.objects.values_list("name", flat=True), *on_disk})


def upload(name, content=None):
    data = content if content is not None else (FIXTURES / name).read_bytes()
    return SimpleUploadedFile(name, data, content_type="text/csv")


def post(client, captured, **data):
    with captured(execute=True):
        return client.post(reverse("admin:segments_import"), data)


def test_the_upload_page_explains_the_options_and_shows_example_files(admin_client):
    response = admin_client.get(reverse("admin:segments_import"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Check only (dry run)" in page
    assert "customer_id,products_purchased,complains,money_spent" in page
    assert "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country" in page


def test_uploading_a_customers_file_imports_it_and_shows_the_report(admin_client, django_capture_on_commit_callbacks,
                                                                    media):
    response = post(admin_client, django_capture_on_commit_callbacks, file=upload("customers.csv"), kind="customers")

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:segments_import_job", kwargs={"job_id": job.id})
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.rows_total, job.rows_processed) == (8, 8)
    assert job.report["created"] == 6 and job.report["rejected"] == 2 and len(job.report["warnings"]) == 5
    assert job.file.name == "" and stored_files(media) == []  # deleted once imported
    assert job.created_by.username == "admin"
    assert Customer.objects.count() == 6

    page = admin_client.get(response["Location"]).content.decode()
    assert "Succeeded" in page
    assert "<tr><th>Created</th><td>6</td></tr>" in page
    assert "<tr><th>Rejected rows</th><td>2</td></tr>" in page
    assert "<tr><th>Warnings</th><td>5</td></tr>" in page
    assert "<td>7</td><td>customer_id</td><td><code></code></td><td>missing customer id</td>" in page
    warnings = page[page.index("<h2>Warnings</h2>"):]
    assert "<td>4</td><td>email</td><td><code>not-an-email</code></td><td>not a valid email address</td>" in warnings
    assert 'http-equiv="refresh"' not in page


def test_uploading_online_retail_orders_with_a_mapping(admin_client, django_capture_on_commit_callbacks):
    content = (FIXTURES / "online_retail.csv").read_bytes().replace(b"CustomerID", b"Kunde")

    post(admin_client, django_capture_on_commit_callbacks, file=upload("retail.csv", content), kind="orders",
         format="online-retail", mapping="customer_id=Kunde\n")

    job = ImportJob.objects.get()
    assert job.options["mapping"] == {"customer_id": "Kunde"}
    assert (job.report["created"], job.report["skipped"]) == (5, 2)
    assert Order.objects.count() == 5


def test_a_dry_run_upload_reports_without_saving(admin_client, django_capture_on_commit_callbacks):
    post(admin_client, django_capture_on_commit_callbacks, file=upload("orders.csv"), kind="orders", dry_run="on")

    job = ImportJob.objects.get()
    assert job.report["created"] == 3 and job.report["dry_run"] is True
    assert not Order.objects.exists()
    page = admin_client.get(reverse("admin:segments_import_job", args=[job.id])).content.decode()
    assert "check only (dry run)" in page


def test_a_mapping_with_an_unknown_field_is_shown_on_the_form(admin_client):
    response = admin_client.post(
        reverse("admin:segments_import"), {"file": upload("orders.csv"), "kind": "orders", "mapping": "total=Amount"}
    )

    assert response.status_code == 200
    assert "Not one of our field names: total" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_the_import_refuses_fails_the_job_with_the_reason(admin_client, django_capture_on_commit_callbacks):
    post(admin_client, django_capture_on_commit_callbacks, file=upload("x.csv", b"name,city\nA,B\n"), kind="customers")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "no column for external_id" in job.error
    page = admin_client.get(reverse("admin:segments_import_job", args=[job.id])).content.decode()
    assert "no column for external_id" in page


def test_a_running_job_page_refreshes_and_shows_progress(admin_client):
    job = ImportJob.objects.create(kind="orders", file="imports/x.csv", original_name="x.csv",
                                   status=ImportJob.Status.RUNNING, rows_total=200, rows_processed=50, percent=25)

    page = admin_client.get(reverse("admin:segments_import_job", args=[job.id])).content.decode()

    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress class="import-progress" max="100" value="25">' in page
    assert "50 of about 200 rows" in page


def test_a_job_runs_once_even_if_its_message_is_delivered_twice(admin_client, django_capture_on_commit_callbacks):
    post(admin_client, django_capture_on_commit_callbacks, file=upload("simple_segmentation.csv"), kind="customers")
    job = ImportJob.objects.get()

    assert import_job_task.apply(kwargs={"job_id": job.id}).get() == "skipped"
    assert ImportJob.objects.get().report["created"] == 4


def test_the_pages_keep_their_addresses_in_admin():
    assert reverse("admin:segments_import") == "/admin/segments/import/"
    assert reverse("admin:segments_import_job", args=[7]) == "/admin/segments/import/jobs/7/"


def test_the_pages_are_for_staff_only(client):
    response = client.get(reverse("admin:segments_import"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_permission_to_add_orders_cannot_import_them(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)

    response = client.post(reverse("admin:segments_import"), {"file": upload("orders.csv"), "kind": "orders"})

    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_past_imports_are_listed_in_admin_and_open_their_job_page(admin_client, django_capture_on_commit_callbacks):
    post(admin_client, django_capture_on_commit_callbacks, file=upload("customers.csv"), kind="customers")
    job = ImportJob.objects.get()

    listing = admin_client.get(reverse("admin:segments_importjob_changelist"))
    opened = admin_client.get(reverse("admin:segments_importjob_change", args=[job.pk]))

    assert listing.status_code == 200
    assert reverse("admin:segments_import_job", args=[job.pk]) in listing.content.decode()
    assert opened.status_code == 302 and opened["Location"] == reverse("admin:segments_import_job", args=[job.pk])


@pytest.mark.parametrize("object_id", ["abc", "99999"])
def test_an_import_id_that_names_no_job_answers_404(admin_client, object_id):
    assert admin_client.get(f"/admin/segments/importjob/{object_id}/change/").status_code == 404


def test_both_lists_link_to_the_csv_import(admin_client, shop):
    for url in (CUSTOMERS_URL, ORDERS_URL):
        response = admin_client.get(url)
        assert '<a href="/admin/segments/import/" class="addlink">Import CSV</a>' in response.text


# --- who may see which import (a job's report holds customer data: the rejected values) --------

IMPORT_CUSTOMERS = ("add_customer", "change_customer")


def _job(name, created_by, **fields):
    return ImportJob.objects.create(
        kind="customers", file=f"imports/{name}", original_name=name, created_by=created_by,
        status=ImportJob.Status.SUCCEEDED, **fields,
    )


def test_staff_who_may_import_nothing_cannot_open_the_upload_page(staff_with):
    assert staff_with().get(reverse("admin:segments_import")).status_code == 403
    assert staff_with("view_customer").get(reverse("admin:segments_import")).status_code == 403
    assert staff_with(*IMPORT_CUSTOMERS).get(reverse("admin:segments_import")).status_code == 200


def test_the_upload_page_lists_only_the_users_own_imports_without_the_view_permission(staff_with, django_user_model):
    _job("somebody_elses.csv", django_user_model.objects.create_user("olga.uploader"))
    importer = staff_with(*IMPORT_CUSTOMERS)
    _job("mine.csv", importer.user)

    page = importer.get(reverse("admin:segments_import")).content.decode()

    assert "mine.csv" in page
    assert "somebody_elses.csv" not in page and "olga.uploader" not in page


def test_the_upload_page_lists_every_import_with_the_view_permission(staff_with, admin_user):
    _job("somebody_elses.csv", admin_user)

    page = staff_with(*IMPORT_CUSTOMERS, "view_importjob").get(reverse("admin:segments_import")).content.decode()

    assert "somebody_elses.csv" in page


def test_a_job_page_is_refused_to_staff_without_the_view_permission(staff_with, admin_user):
    job = _job("customers.csv", admin_user, report={"errors": [{"line": 2, "column": "email", "value": "secret@x"}]})
    outsider = staff_with(*IMPORT_CUSTOMERS)

    page = outsider.get(reverse("admin:segments_import_job", args=[job.pk]))
    opened = outsider.get(reverse("admin:segments_importjob_change", args=[job.pk]))
    listing = outsider.get(reverse("admin:segments_importjob_changelist"))

    assert (page.status_code, opened.status_code, listing.status_code) == (403, 403, 403)
    assert "secret@x" not in page.content.decode()


def test_a_job_page_opens_for_staff_with_the_view_permission(staff_with, admin_user):
    job = _job("customers.csv", admin_user)
    viewer = staff_with("view_importjob")

    page = viewer.get(reverse("admin:segments_import_job", args=[job.pk]))
    opened = viewer.get(reverse("admin:segments_importjob_change", args=[job.pk]))
    listing = viewer.get(reverse("admin:segments_importjob_changelist"))

    assert page.status_code == 200 and "customers.csv" in page.content.decode()
    assert opened.status_code == 302 and opened["Location"] == reverse("admin:segments_import_job", args=[job.pk])
    assert listing.status_code == 200 and "customers.csv" in listing.content.decode()


def test_the_uploader_sees_their_own_job_page_without_the_view_permission(staff_with, django_capture_on_commit_callbacks):
    importer = staff_with(*IMPORT_CUSTOMERS)
    response = post(importer, django_capture_on_commit_callbacks, file=upload("customers.csv"), kind="customers")

    page = importer.get(response["Location"])

    assert page.status_code == 200
    assert "customers.csv" in page.content.decode()


# --- a job whose worker died: shown, and failed by hand -------------------------------------------


def stuck_job(minutes_silent=3):
    silent_since = timezone.now() - datetime.timedelta(minutes=minutes_silent, seconds=5)
    return ImportJob.objects.create(kind="orders", file="imports/x.csv", original_name="x.csv",
                                    status=ImportJob.Status.RUNNING, started_at=silent_since,
                                    heartbeat_at=silent_since, attempts=1)


def job_url(job, view="segments_import_job"):
    return reverse(f"admin:{view}", args=[job.pk])


def test_a_job_whose_worker_is_silent_says_so_and_offers_to_fail_it(admin_client, settings):
    settings.JOB_STALE_AFTER_SECONDS = 120
    job = stuck_job()

    page = admin_client.get(job_url(job)).content.decode()

    assert "no sign of life for 3 minutes" in page
    assert f'action="{job_url(job, "segments_import_job_fail")}"' in page


def test_a_job_that_still_beats_shows_no_warning(admin_client, settings):
    settings.JOB_STALE_AFTER_SECONDS = 120
    job = stuck_job(minutes_silent=0)

    page = admin_client.get(job_url(job)).content.decode()

    assert "no sign of life" not in page
    assert "Mark this import failed" in page


def test_a_stuck_job_is_failed_by_hand(admin_client):
    job = stuck_job()

    response = admin_client.post(job_url(job, "segments_import_job_fail"))

    job.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert job.status == "failed" and job.error.startswith("failed by hand by admin at ")
    page = admin_client.get(job_url(job)).content.decode()
    assert "is marked failed" in page
    assert "Mark this import failed" not in page and 'http-equiv="refresh"' not in page


def test_failing_a_finished_job_by_hand_changes_nothing(admin_client):
    done = ImportJob.objects.create(kind="orders", file="imports/x.csv", status=ImportJob.Status.SUCCEEDED)

    response = admin_client.post(job_url(done, "segments_import_job_fail"), follow=True)

    done.refresh_from_db()
    assert done.status == "succeeded" and done.error == ""
    assert "had already ended" in response.content.decode()


def test_only_staff_who_may_change_import_jobs_can_fail_one(client, django_user_model):
    job = stuck_job()
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)

    page = client.get(job_url(job)).content.decode()
    refused = client.post(job_url(job, "segments_import_job_fail"))
    clerk.user_permissions.add(Permission.objects.get(codename="change_importjob"))
    allowed = client.post(job_url(job, "segments_import_job_fail"))

    assert "Mark this import failed" not in page
    assert refused.status_code == 403
    assert allowed.status_code == 302
    job.refresh_from_db()
    assert job.status == "failed" and "failed by hand by clerk" in job.error


def test_failing_a_job_by_hand_takes_a_post(admin_client):
    job = stuck_job()

    assert admin_client.get(job_url(job, "segments_import_job_fail")).status_code == 405
    job.refresh_from_db()
    assert job.status == "running"


# --- what may be uploaded, and how long it is kept --------------------------------------------


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    rows = b"".join(b"C%07d,c%d@example.com\n" % (n, n) for n in range(60_000))

    response = admin_client.post(reverse("admin:segments_import"),
                                 {"file": upload("big.csv", b"external_id,email\n" + rows), "kind": "customers"})

    assert response.status_code == 200
    assert "the largest file you can import is 1 MB (the IMPORT_MAX_UPLOAD_MB setting)" in response.text
    assert not ImportJob.objects.exists()


WORKBOOK = "This is a spreadsheet workbook, not a CSV file: save it as CSV first"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("customers.xlsx", b"PK\x03\x04" + bytes(200), WORKBOOK),
        ("customers.csv", b"PK\x03\x04" + bytes(200), WORKBOOK),
        ("customers.pdf", b"%PDF-1.7", "Only CSV text files can be imported (.csv, .txt or .tsv); this is a .pdf file"),
        ("customers.csv", bytes(range(256)) * 8, "This file holds binary data, not text"),
    ],
)
def test_what_is_not_csv_text_is_refused_with_what_to_do(admin_client, name, content, problem):
    response = admin_client.post(reverse("admin:segments_import"), {"file": upload(name, content), "kind": "customers"})

    assert response.status_code == 200
    assert escape(problem) in response.text
    assert not ImportJob.objects.exists()


def test_an_upload_stored_on_disk_is_readable_by_its_owner_only(admin_client, settings, tmp_path):
    # Not the default (the database), but a storage an operator may configure for imports.
    settings.STORAGES = {**settings.STORAGES, "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "uploads"},
    }}

    admin_client.post(reverse("admin:segments_import"), {"file": upload("customers.csv"), "kind": "customers"})

    job = ImportJob.objects.get()  # queued: the task is sent once the request commits
    path = Path(job.file.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("customers.csv", {"kind": "customers"}),
        ("x.csv", {"kind": "customers"}),  # the import refuses it: no external_id column
        ("orders.csv", {"kind": "orders", "dry_run": "on"}),
    ],
    ids=["succeeded", "failed", "dry run"],
)
def test_the_upload_is_deleted_when_its_job_ends(admin_client, django_capture_on_commit_callbacks, media, name, data):
    content = b"name,city\nA,B\n" if name == "x.csv" else None

    post(admin_client, django_capture_on_commit_callbacks, file=upload(name, content), **data)

    job = ImportJob.objects.get()
    assert job.status in {"succeeded", "failed"} and job.original_name == name
    assert job.file.name == ""
    assert stored_files(media) == []


def test_failing_a_job_by_hand_deletes_its_upload(admin_client, media):
    admin_client.post(reverse("admin:segments_import"), {"file": upload("customers.csv"), "kind": "customers"})
    job = ImportJob.objects.get()

    admin_client.post(job_url(job, "segments_import_job_fail"))

    job.refresh_from_db()
    assert job.status == "failed" and job.file.name == ""
    assert stored_files(media) == []
