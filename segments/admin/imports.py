"""Import admin: the CSV upload page, a job's progress and report, and the list of past uploads.

The upload and job pages keep the address /admin/segments/import/ (segcampaign/admin.py mounts
upload_urls there). Any staff member may open them; uploading needs the permissions that
importing uses on the model the file fills.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from segments.forms import ImportForm
from segments.importing import CUSTOMER_FIELDS, ONLINE_RETAIL_FIELDS, ORDER_FIELDS, import_job_create
from segments.models import ImportJob

# Who may import what: importing creates and changes rows of that model.
_PERMISSIONS = {
    ImportJob.Kind.CUSTOMERS: ("segments.add_customer", "segments.change_customer"),
    ImportJob.Kind.ORDERS: ("segments.add_order", "segments.change_order", "segments.add_customer"),
}
_ERRORS_SHOWN = 500


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """CSV uploads are records: listed here, each opening its job page with the report."""

    list_display = ["id", "kind", "file_link", "status", "rows_processed", "created_by", "created_at"]
    list_filter = ["kind", "status", "created_at"]
    list_display_links = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @property
    def upload_urls(self):
        """The upload page ("") and a job's page ("jobs/<id>/"), for the site to mount."""
        return [
            path("", self.admin_site.admin_view(self.upload_view), name="segments_import"),
            path("jobs/<int:job_id>/", self.admin_site.admin_view(self.job_view), name="segments_import_job"),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:segments_import_job", job_id=object_id)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "CSV imports (open one from Customers → Import CSV)", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="file", ordering="original_name")
    def file_link(self, job):
        url = reverse("admin:segments_import_job", args=[job.pk])
        return format_html('<a href="{}">{}</a>', url, job.original_name)

    # -- the upload and job pages

    def upload_view(self, request):
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            kind = form.cleaned_data["kind"]
            if not request.user.has_perms(_PERMISSIONS[kind]):
                raise PermissionDenied
            job = import_job_create(
                kind=kind, upload=form.cleaned_data["file"], options=form.options(), created_by=request.user
            )
            messages.info(request, f"{job.original_name} was uploaded; the import runs in the background.")
            return redirect("admin:segments_import_job", job_id=job.id)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import customers or orders",
            "form": form,
            "jobs": ImportJob.objects.select_related("created_by")[:10],
            "fields": {"customers": list(CUSTOMER_FIELDS), "orders": list(ORDER_FIELDS),
                       "online_retail": list(ONLINE_RETAIL_FIELDS)},
        }
        return render(request, "admin/segments/import_form.html", context)

    def job_view(self, request, job_id: int):
        job = get_object_or_404(ImportJob, pk=job_id)
        report = job.report or {}
        errors = report.get("errors", [])
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "job": job,
            "report": report,
            "errors": errors[:_ERRORS_SHOWN],
            "errors_hidden": len(errors) - _ERRORS_SHOWN + report.get("errors_omitted", 0),
            "in_progress": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
        }
        return render(request, "admin/segments/import_job.html", context)
