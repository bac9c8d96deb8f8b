"""Suppression admin: the addresses no campaign may message again on a channel.

Most are added by themselves (an unsubscribe link, a STOP reply, a hard bounce); a person adds
one by hand (a customer who asked by phone) with the reason and a note saying why, and removes
one by deleting it (a customer who signed up again).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.validators import validate_email

from campaigns.models import Channel, Suppression
from segments.admin.search import as_e164


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["channel", "address", "reason", "detail"]
        labels = {"address": "Email address or phone number", "detail": "Why"}
        help_texts = {
            "address": "Phone numbers are written with their country code (+44 7700 900123).",
            "detail": "A note for whoever reads this later: who asked, when, how.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["detail"].required = True

    def clean(self):
        cleaned = super().clean()
        channel, address = cleaned.get("channel"), (cleaned.get("address") or "").strip()
        if not channel or not address:
            return cleaned
        if channel == Channel.EMAIL:
            try:
                validate_email(address)
            except forms.ValidationError:
                self.add_error("address", "This is not an email address.")
            cleaned["address"] = address.lower()
        else:
            number = as_e164(address)
            if number is None:
                self.add_error("address", "This is not a phone number; write it with its country code.")
            else:
                cleaned["address"] = number
        return cleaned


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ("address", "channel", "reason", "detail", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
    search_help_text = "The beginning of an email address, or a phone number."
    ordering = ("-created_at",)
    fieldsets = (
        (None, {
            "fields": ("channel", "address", "reason", "detail"),
            "description": "No campaign sends to a suppressed address on its channel again, whatever the "
            "customer's consent says. Delete the entry to allow messages again (only when the customer asked).",
        }),
    )

    def get_readonly_fields(self, request, obj=None):
        # An entry is about one address: to suppress another, add another.
        return ("channel", "address", "created_at") if obj else ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        phone = as_e164(term)
        return (queryset.filter(address=phone) if phone else queryset.filter(address__startswith=term.lower())), False

    def save_model(self, request, obj, form, change):
        if not change and obj.detail and request.user.get_username():
            obj.detail = f"{obj.detail} (added by {request.user.get_username()})"
        super().save_model(request, obj, form, change)
