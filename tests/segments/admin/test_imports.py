"""Import admin: the upload page, a job's page (Celery eager, no broker, as in the embedded setup), past imports."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from segments.models import Customer, ImportJob, Order
from segments.tasks import import_job_task

pytestmark = pytest.mark.django_db

CUSTOMERS_URL = reverse("admin:segments_customer_changelist")
ORDERS_URL = reverse("admin:segments_order_changelist")

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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
    assert job.file.path.startswith(str(media / "imports"))
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


def test_both_lists_link_to_the_csv_import(admin_client, shop):
    for url in (CUSTOMERS_URL, ORDERS_URL):
        response = admin_client.get(url)
        assert '<a href="/admin/segments/import/" class="addlink">Import CSV</a>' in response.text
