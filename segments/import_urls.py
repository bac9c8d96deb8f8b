"""The CSV upload pages, inside the admin (mounted at admin/segments/import/)."""

from django.contrib import admin
from django.urls import path

from segments import views

urlpatterns = [
    path("", admin.site.admin_view(views.import_upload), name="segments_import"),
    path("jobs/<int:job_id>/", admin.site.admin_view(views.import_job), name="segments_import_job"),
]
