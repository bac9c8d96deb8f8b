from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "segcampaign"
admin.site.site_title = "segcampaign"
admin.site.index_title = "Customers, segments and campaigns"

urlpatterns = [
    path("admin/segments/import/", include("segments.import_urls")),
    path("admin/", admin.site.urls),
]
