"""Import admin: past CSV uploads, each opening its job page with the report."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from segments.models import ImportJob


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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("segments_import_job", job_id=object_id)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "CSV imports (open one from Customers → Import CSV)", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="file", ordering="original_name")
    def file_link(self, job):
        return format_html('<a href="{}">{}</a>', reverse("segments_import_job", args=[job.pk]), job.original_name)
