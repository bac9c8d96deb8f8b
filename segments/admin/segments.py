"""Segment admin: what each segment is, who is in it now, and the name a marketer gives it.

Segments can be renamed and described, nothing else: they come from runs and are retired by
runs, never deleted.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html, format_html_join

from segcampaign.pagination import LargeTablePaginator
from segments import plots
from segments.models import Customer, Membership, Segment

from .display import admin_url, key_value_table, number, percent

MEMBERS_PER_PAGE = 100
# Estimated counts and pages fetched by key (bench/admin_lists.py swaps in Django's to compare).
MEMBERS_PAGINATOR = LargeTablePaginator


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_active", "size_display", "algorithm", "last_run_link")
    list_filter = ("is_active", "algorithm", "name_locked")
    search_fields = ("name", "key", "description")
    # The member list sits between the form and the bottom buttons: save from the top too.
    save_on_top = True
    fieldsets = (
        (
            "What the marketer sets",
            {
                "fields": ("name", "description"),
                "description": "Renaming a segment keeps the new name through later runs; campaign rules "
                "follow the segment, not its name.",
            },
        ),
        (
            "What the runs found",
            {
                "fields": (
                    "key",
                    "is_active",
                    "name_locked",
                    "size",
                    "algorithm",
                    "first_run",
                    "last_run",
                    "retired_at",
                    "profile_display",
                ),
            },
        ),
        ("Model internals", {"fields": ("centroid",), "classes": ("collapse",)}),
    )
    # Everything but what the marketer sets comes from the runs.
    readonly_fields = tuple(
        name for _, options in fieldsets for name in options["fields"] if name not in ("name", "description")
    )

    @admin.display(description="customers", ordering="size")
    def size_display(self, segment: Segment) -> str:
        return number(segment.size)

    @admin.display(description="last run", ordering="last_run")
    def last_run_link(self, segment: Segment):
        if segment.last_run_id is None:
            return "–"
        url = admin_url("segments_segmentationrun_change", segment.last_run_id)
        return format_html('<a href="{}">Run {}</a>', url, segment.last_run_id)

    @admin.display(description="profile (last run)")
    def profile_display(self, segment: Segment):
        profile = segment.profile or {}
        if not profile:
            return "–"
        statistics, rows = plots.profile_statistics(profile)
        summary = [
            ("customers", number(profile.get("size"))),
            ("share of customers", percent(profile.get("share"))),
            ("share of revenue", percent(profile.get("revenue_share"))),
        ]
        head = format_html_join("", "<th>{}</th>", ((plots.STATISTIC_LABELS.get(s, s),) for s in statistics))
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (feature, format_html_join("", "<td>{}</td>", ((number(values.get(s)),) for s in statistics)))
                for feature, values in rows
            ),
        )
        return format_html(
            '<p class="segcampaign-description">{}</p>{}<table class="segcampaign-stats">'
            "<thead><tr><th>feature</th>{}</tr></thead><tbody>{}</tbody></table>",
            profile.get("description", ""),
            key_value_table(summary),
            head,
            body,
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("last_run", "first_run")

    # Segments come from runs (no add) and are retired by runs, never deleted: memberships of
    # past runs and campaign history point at them.
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if "name" in form.changed_data:
            # Later runs keep a name a marketer chose instead of naming the segment from its profile.
            obj.name_locked = True
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Checked before the member list is read, which Django's own check would follow.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        segment = self.get_object(request, object_id)
        if segment is not None:
            extra_context = {**(extra_context or {}), **self._members_context(request, segment)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _may_see_customers(self, request) -> bool:
        if self.admin_site.is_registered(Customer):
            return self.admin_site.get_model_admin(Customer).has_view_or_change_permission(request)
        return request.user.has_perm("segments.view_customer")

    def _members_context(self, request, segment: Segment) -> dict:
        """Who is in the segment now, a page at a time; only how many for those who may not see customers."""
        current = Membership.objects.filter(segment=segment, ended_run__isnull=True)
        if not self._may_see_customers(request):
            return {"members_count": current.count(), "members_hidden": True}
        members = (
            current.select_related("customer")
            .only("run_id", "customer__external_id", "customer__email", "customer__first_name", "customer__last_name")
            .order_by("customer_id")
        )
        page = MEMBERS_PAGINATOR(members, MEMBERS_PER_PAGE).get_page(request.GET.get("members_page"))
        link_customers = self.admin_site.is_registered(Customer)
        rows = [
            {
                "customer": str(membership.customer),
                "email": membership.customer.email,
                "url": admin_url("segments_customer_change", membership.customer_id) if link_customers else None,
                "run_id": membership.run_id,
                "run_url": admin_url("segments_segmentationrun_change", membership.run_id),
            }
            for membership in page.object_list
        ]
        return {"members_count": page.paginator.count, "members_page": page, "member_rows": rows}
