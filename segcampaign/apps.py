from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin, with segcampaign.admin.AdminSite as the site every ModelAdmin registers with."""

    default_site = "segcampaign.admin.AdminSite"
