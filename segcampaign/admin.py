"""The project's admin site: Django's, with its titles and the pages kept at addresses of their own."""

from django.contrib import admin
from django.urls import include, path

from segments.models import ImportJob


class AdminSite(admin.AdminSite):
    site_header = "segcampaign"
    site_title = "segcampaign"
    index_title = "Customers, segments and campaigns"

    def get_urls(self):
        # The CSV upload pages belong to the import admin, whose own URLs all sit under its
        # model's address (/admin/segments/importjob/); they keep /admin/segments/import/.
        import_admin = self.get_model_admin(ImportJob)
        return [path("segments/import/", include(import_admin.upload_urls)), *super().get_urls()]
