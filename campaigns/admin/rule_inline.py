"""The rules of a campaign, edited on the campaign's page: one stacked form per rule (rule_forms.py),
shown in words to whoever may only look, with a preview link per template.

A rule is part of its campaign: whoever may change the campaign may change its rules.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from campaigns.models import Rule

from .rule_forms import RuleForm, RuleFormSet, condition_in_words
from .templates import variant_preview_url


class RuleInline(admin.StackedInline):
    model = Rule
    form = RuleForm
    formset = RuleFormSet
    extra = 0
    verbose_name = "rule"
    verbose_name_plural = "Rules: who gets which message"
    fieldsets = (
        (None, {"fields": ("priority", "channel", "segments", "conditions")}),
        ("What they get", {"fields": ("variants", "previews", "offer_code", "offer_discount", "offer_expires_days")}),
    )
    # For whoever may only look: the row editors' contents in words.
    view_fieldsets = (
        (None, {"fields": ("priority", "channel", "segment_names", "conditions_in_words")}),
        ("What they get", {"fields": ("templates_in_words", "previews", "offer_code", "offer_discount",
                                      "offer_expires_days")}),
    )
    readonly_fields = ("previews", "segment_names", "conditions_in_words", "templates_in_words")

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets if self.has_change_permission(request, obj) else self.view_fieldsets

    @admin.display(description="Segments")
    def segment_names(self, rule: Rule) -> str:
        return ", ".join(s.name for s in rule.segments.all()) or "–"

    @admin.display(description="Only customers whose")
    def conditions_in_words(self, rule: Rule) -> str:
        return " and ".join(condition_in_words(c) for c in rule.conditions) or "no further condition"

    @admin.display(description="Templates")
    def templates_in_words(self, rule: Rule) -> str:
        return ", ".join(f"{v.template.name} (weight {v.weight})" for v in rule.variants.all()) or "–"

    @admin.display(description="Preview and test")
    def previews(self, rule: Rule):
        if not rule.pk:
            return "Save the campaign, then preview each template here as this rule sends it."
        links = [(variant_preview_url(v), v.template.name) for v in rule.variants.all()]
        if not links:
            return "–"
        return format_links(links, "Preview {} (this rule's offer and segments), and send a test")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("segments", "variants__template")

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None and obj.rules.exists() else 1

    # A rule is part of its campaign: whoever may change the campaign may change its rules.
    def _may_change_campaign(self, request, obj=None) -> bool:
        return request.user.has_perm("campaigns.change_campaign") or (
            obj is None and request.user.has_perm("campaigns.add_campaign")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_change_campaign(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_change_campaign(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_change_campaign(request, obj)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("campaigns.view_campaign") or self._may_change_campaign(request, obj)


def format_links(links, template: str):
    return format_html_join(mark_safe("<br>"), '<a href="{}">' + template + "</a>", links)
