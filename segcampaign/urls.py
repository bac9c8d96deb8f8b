from django.contrib import admin
from django.urls import path

admin.site.site_header = "segcampaign"
admin.site.site_title = "segcampaign"
admin.site.index_title = "Customers, segments and campaigns"

urlpatterns = [
    path("admin/", admin.site.urls),
]
