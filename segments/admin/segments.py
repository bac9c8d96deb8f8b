"""Segment admin: what each segment is, who is in it now, and the name a marketer gives it.

Segments can be renamed and described, nothing else: they come from runs and are retired by
runs, never deleted. The list shows the live segments; retired ones are listed apart.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.html import format_html, format_html_join

from segments import plots
from segments.models import Customer, Segment
from segments.services import segment_store

from . import segment_members
from .display import admin_url, key_value_table, number, percent


class StatusFilter(admin.SimpleListFilter):
    """Live segments by default; the retired ones on a list of their own."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("retired", "Retired"), ("all", "Live and retired")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "retired":
            return queryset.filter(is_active=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(is_active=True)


class LiveFirstChangeList(ChangeList):
    """Live segments come first whatever column the list is sorted by."""

    def get_ordering(self, request, queryset):
        ordering = [field for field in super().get_ordering(request, queryset) if field.lstrip("-") != "is_active"]
        return ["-is_active", *ordering]


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "description")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if self.instance.is_active and segment_store.live_name_taken(name, exclude_pk=self.instance.pk):
            raise forms.ValidationError(segment_store.name_taken_message(name))
        return name


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "key", "is_active", "size_display", "algorithm", "last_run_link", "retired_at")
    list_filter = (StatusFilter, "algorithm", "name_locked", "profile_changed")
    search_fields = ("name", "key", "description")
    # The member list sits between the form and the bottom buttons: save from the top too.
    save_on_top = True
    fieldsets = (
        (
            "What the marketer sets",
            {
                "fields": ("profile_change_display", "name", "description"),
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

    @admin.display(description="check the name")
    def profile_change_display(self, segment: Segment):
        if not segment.profile_changed:
            return "Nothing to check: no run has changed this segment's customers much since it was named."
        return format_html(
            '<strong class="segcampaign-error">{}</strong><br><span class="segcampaign-help">Saving this page, '
            "renamed or not, clears this note.</span>",
            segment.profile_change,
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

    def get_changelist(self, request, **kwargs):
        return LiveFirstChangeList

    def get_list_display(self, request):
        # The live list has no retired segment: its status and retirement date would be blank.
        if request.GET.get(StatusFilter.parameter_name) in ("retired", "all"):
            return self.list_display
        return [name for name in self.list_display if name not in ("is_active", "retired_at")]

    def save_model(self, request, obj, form, change):
        # The service locks a changed name (later runs keep it) and refuses one another live
        # segment has; the form said so already, this covers two people saving at once.
        name, description = obj.name, obj.description
        obj.name = form.initial.get("name", obj.name)
        # Whoever saves the page has seen the note that the customers changed: it has done its job.
        obj.profile_changed, obj.profile_change = False, ""
        try:
            segment_store.segment_rename(segment=obj, name=name, description=description)
        except segment_store.SegmentNameTaken as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)

    def get_urls(self):
        export = path(
            "<path:object_id>/export/",
            self.admin_site.admin_view(self.export_view),
            name="segments_segment_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request, object_id):
        """The segment's current members as CSV: for those who may view segments and customers."""
        if not self.has_view_or_change_permission(request) or not self._may_see_customers(request):
            raise PermissionDenied
        return segment_members.export_response(get_object_or_404(Segment, pk=object_id))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Checked before the member list is read, which Django's own check would follow.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        segment = self.get_object(request, object_id)
        if segment is not None:
            extra_context = {**(extra_context or {}), **self._members_context(request, segment)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _may_see_customers(self, request) -> bool:
        return segment_members.may_see_customers(self.admin_site, request)

    def _members_context(self, request, segment: Segment) -> dict:
        """Who is in the segment now, a page at a time; only how many for those who may not see customers."""
        return segment_members.members_context(
            request,
            segment,
            may_see_customers=self._may_see_customers(request),
            link_customers=self.admin_site.is_registered(Customer),
        )
