"""The project's admin site: Django's, with its titles and the pages kept at addresses of their own."""

from functools import wraps

from django.contrib import admin
from django.http import HttpResponseBadRequest
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

    def admin_view(self, view, cacheable=False):
        """Every admin page, refusing a query string with a NUL character.

        List filters pass their values to the database, and PostgreSQL refuses NUL in text
        with an error (a 500 page); no stored value can hold one, so the request is wrong.
        """
        checked = super().admin_view(view, cacheable)

        @wraps(checked)
        def inner(request, *args, **kwargs):
            if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
                return HttpResponseBadRequest("A parameter of this address holds a NUL character (%00).")
            return checked(request, *args, **kwargs)

        return inner
