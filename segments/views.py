"""Admin pages for CSV uploads: the upload form and a job's progress and report."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from segments.forms import ImportForm
from segments import tasks
from segments.importing import CUSTOMER_FIELDS, ONLINE_RETAIL_FIELDS, ORDER_FIELDS
from segments.models import ImportJob

# Who may import what: importing creates and changes rows of that model.
_PERMISSIONS = {
    ImportJob.Kind.CUSTOMERS: ("segments.add_customer", "segments.change_customer"),
    ImportJob.Kind.ORDERS: ("segments.add_order", "segments.change_order", "segments.add_customer"),
}
_ERRORS_SHOWN = 500


def import_upload(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not request.user.has_perms(_PERMISSIONS[kind]):
            raise PermissionDenied
        job = tasks.import_job_queue(
            kind=kind, upload=form.cleaned_data["file"], options=form.options(), created_by=request.user
        )
        messages.info(request, f"{job.original_name} was uploaded; the import runs in the background.")
        return redirect("segments_import_job", job_id=job.id)
    context = {
        **admin.site.each_context(request),
        "title": "Import customers or orders",
        "form": form,
        "jobs": ImportJob.objects.select_related("created_by")[:10],
        "fields": {"customers": list(CUSTOMER_FIELDS), "orders": list(ORDER_FIELDS),
                   "online_retail": list(ONLINE_RETAIL_FIELDS)},
    }
    return render(request, "admin/segments/import_form.html", context)


def import_job(request, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id)
    report = job.report or {}
    errors = report.get("errors", [])
    context = {
        **admin.site.each_context(request),
        "title": str(job),
        "job": job,
        "report": report,
        "errors": errors[:_ERRORS_SHOWN],
        "errors_hidden": len(errors) - _ERRORS_SHOWN + report.get("errors_omitted", 0),
        "in_progress": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
    }
    return render(request, "admin/segments/import_job.html", context)
