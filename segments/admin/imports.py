"""Import admin: the CSV upload page, a job's progress and report, and the list of past uploads.

The upload and job pages keep the address /admin/segments/import/ (segcampaign/admin.py mounts
upload_urls there). Uploading needs the permissions that importing uses on the model the file
fills (the upload page, the permissions for one kind at least). A job's report holds customer
data (the rejected values): a job is seen by the person who uploaded it, and every job by those
with the view permission of imports. Marking a stuck job failed needs the change permission of import jobs.
"""

import codecs

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from segcampaign import jobs
from segments import tasks
from segments.importing import (
    CUSTOMER_FIELDS,
    FORMATS,
    ONLINE_RETAIL_FIELDS,
    ORDER_FIELDS,
    ImportFileError,
    fields_for,
    import_job_upload_delete,
    parse_mapping,
    upload_content_problem,
    upload_size_problem,
)
from segments.models import ImportJob

from .display import no_sign_of_life

# Who may import what: importing creates and changes rows of that model.
_PERMISSIONS = {
    ImportJob.Kind.CUSTOMERS: ("segments.add_customer", "segments.change_customer"),
    ImportJob.Kind.ORDERS: ("segments.add_order", "segments.change_order", "segments.add_customer"),
}
_ERRORS_SHOWN = 500

ENCODINGS = [
    ("", "Detect it for me (recommended)"),
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with a byte order mark (Excel \"CSV UTF-8\")"),
    ("cp1252", "Windows / Western Europe (cp1252, older Excel on Windows)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
]

FORMAT_LABELS = {
    "default": "One row per order",
    "online-retail": "One row per invoice line (Online Retail: InvoiceNo, StockCode, Quantity, UnitPrice...)",
}


class ImportForm(forms.Form):
    """The upload form: the file, what it holds and how to read it."""

    file = forms.FileField(
        label="CSV file",
        help_text="A spreadsheet saved as CSV (.csv, .txt or .tsv). The first line must hold the column names.",
    )
    kind = forms.ChoiceField(
        label="What the file contains",
        choices=ImportJob.Kind.choices,
        initial=ImportJob.Kind.CUSTOMERS,
        widget=forms.RadioSelect,
    )
    format = forms.ChoiceField(
        label="Order file layout",
        choices=[(f, FORMAT_LABELS[f]) for f in FORMATS],
        initial="default",
        required=False,
        help_text="Only for orders. Choose the invoice-line layout when each row is one product of an invoice: "
        "the lines of an invoice are added up into one order.",
    )
    mapping = forms.CharField(
        label="Column names",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50, "placeholder": "external_id=Kundennummer\nemail=E-Mail"}),
        help_text="Only needed when your columns have other names than ours. One per line: our field name, "
        "an equals sign, your column name.",
    )
    date_format = forms.CharField(
        label="Date format",
        required=False,
        max_length=64,
        help_text="Leave empty to let us recognise the dates. If days and months come out swapped, say how your "
        "dates are written, e.g. %d/%m/%Y %H:%M for 31/03/2024 14:05.",
    )
    encoding = forms.ChoiceField(label="Text encoding", choices=ENCODINGS, required=False,
                                 help_text="Change this only if names with accents (Café, Zoë) come out garbled.")
    dry_run = forms.BooleanField(
        label="Check only (dry run)",
        required=False,
        help_text="Reads and checks the whole file and shows what would change, without saving anything.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = upload_size_problem(upload)
        if problem:
            raise forms.ValidationError(problem)
        return upload

    def clean_encoding(self):
        encoding = self.cleaned_data["encoding"]
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise forms.ValidationError("Unknown encoding.") from None
        return encoding

    def clean_date_format(self):
        date_format = self.cleaned_data["date_format"].strip()
        if date_format and "%" not in date_format:
            raise forms.ValidationError("A date format uses codes such as %d (day), %m (month), %Y (year), %H:%M.")
        return date_format

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("file") and "encoding" in cleaned:
            problem = upload_content_problem(cleaned["file"], encoding=cleaned["encoding"] or None)
            if problem:
                self.add_error("file", problem)
        kind, layout = cleaned.get("kind"), cleaned.get("format") or "default"
        if kind == ImportJob.Kind.CUSTOMERS:
            cleaned["format"] = "default"
            layout = "default"
        try:
            mapping = parse_mapping(cleaned.get("mapping", "").splitlines())
        except ImportFileError as exc:
            self.add_error("mapping", str(exc))
            return cleaned
        fields = fields_for(kind or ImportJob.Kind.CUSTOMERS, layout)
        unknown = [name for name in mapping if name not in fields]
        if unknown:
            self.add_error(
                "mapping", f"Not one of our field names: {', '.join(unknown)}. They are: {', '.join(fields)}."
            )
        cleaned["mapping"] = mapping
        return cleaned

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "format": data["format"] or "default",
            "mapping": data["mapping"],
            "date_format": data["date_format"],
            "encoding": data["encoding"],
            "dry_run": data["dry_run"],
        }


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
            path("jobs/<int:job_id>/fail/", self.admin_site.admin_view(self.fail_view),
                 name="segments_import_job_fail"),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404(f"There is no import {object_id!r}.")
        if not self._may_see(request, job):
            raise PermissionDenied
        return redirect("admin:segments_import_job", job_id=job.pk)

    # -- who sees which job

    def _may_see(self, request, job: ImportJob) -> bool:
        return job.created_by_id == request.user.pk or self.has_view_permission(request)

    def _visible_jobs(self, request):
        jobs = ImportJob.objects.select_related("created_by")
        return jobs if self.has_view_permission(request) else jobs.filter(created_by=request.user)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "CSV imports (open one from Customers → Import CSV)", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="file", ordering="original_name")
    def file_link(self, job):
        url = reverse("admin:segments_import_job", args=[job.pk])
        return format_html('<a href="{}">{}</a>', url, job.original_name)

    # -- the upload and job pages

    def upload_view(self, request):
        if not any(request.user.has_perms(permissions) for permissions in _PERMISSIONS.values()):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            kind = form.cleaned_data["kind"]
            if not request.user.has_perms(_PERMISSIONS[kind]):
                raise PermissionDenied
            job = tasks.import_job_queue(
                kind=kind, upload=form.cleaned_data["file"], options=form.options(), created_by=request.user
            )
            messages.info(request, f"{job.original_name} was uploaded; the import runs in the background.")
            return redirect("admin:segments_import_job", job_id=job.id)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import customers or orders",
            "form": form,
            "jobs": self._visible_jobs(request)[:10],
            "fields": {"customers": list(CUSTOMER_FIELDS), "orders": list(ORDER_FIELDS),
                       "online_retail": list(ONLINE_RETAIL_FIELDS)},
        }
        return render(request, "admin/segments/import_form.html", context)

    def job_view(self, request, job_id: int):
        job = get_object_or_404(ImportJob, pk=job_id)
        if not self._may_see(request, job):
            raise PermissionDenied
        report = job.report or {}
        errors = report.get("errors", [])
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "job": job,
            "report": report,
            "errors": errors[:_ERRORS_SHOWN],
            "errors_hidden": len(errors) - _ERRORS_SHOWN + report.get("errors_omitted", 0),
            "in_progress": job.unfinished,
            "no_sign_of_life": no_sign_of_life(job),
            "may_fail": job.unfinished and self._may_fail_jobs(request),
        }
        return render(request, "admin/segments/import_job.html", context)

    def _may_fail_jobs(self, request) -> bool:
        # Failing a stuck job changes it: the model's change permission, which this admin's
        # has_change_permission (uploads are records) does not grant by itself.
        return request.user.has_perm("segments.change_importjob")

    def fail_view(self, request, job_id: int):
        return require_POST(self._fail)(request, job_id)

    def _fail(self, request, job_id: int):
        """An operator ends an import left running or queued by a worker that is gone."""
        if not self._may_fail_jobs(request):
            raise PermissionDenied
        job = get_object_or_404(ImportJob, pk=job_id)
        if jobs.job_fail_by_hand(job, who=request.user.get_username()):
            import_job_upload_delete(job)
            messages.success(request, f"{job} is marked failed.")
        else:
            messages.warning(request, f"{job} had already ended; nothing was changed.")
        return redirect("admin:segments_import_job", job_id=job.pk)
