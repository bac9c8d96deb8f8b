"""Admin pages of records: rows that the project's own work writes (runs, the outbox), which
people look at but never add, edit or delete through the admin's forms."""

from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows are read-only: viewing needs the view permission as usual.

    Pages built on it start work with views of their own (a form on the list page, a button on
    the row's page), each checking the permission it needs.
    """

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
