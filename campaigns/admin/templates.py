"""Message template admin: writing an email or SMS, checked when saved, previewed as a customer
sees it, and sent as a test.

A template is checked with campaigns.rendering.check_template when it is saved: errors stop the
save and are shown under their field with their line ("line 3: ..."), warnings are shown without
stopping it. The preview page renders the saved template for a customer (found by id, email or
phone), a member of a segment, or the built-in sample customer; a test send sends that rendering
to an address the marketer types.

Permissions: the preview needs "view message template"; a test send also needs "add message"
(it is a message leaving the shop, though not a campaign's).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from campaigns import rendering, services
from campaigns.models import Channel, MessageTemplate, Rule, Variant
from campaigns.rendering.sms import GSM7_BASIC, GSM7_EXTENSION, PART_GSM7, PART_UCS2, SINGLE_GSM7, SINGLE_UCS2
from segments import selectors
from segments.admin.display import admin_url
from segments.admin.search import as_e164

from .display import html_frame, problem_text, sms_length_text

FIELDS = {Channel.EMAIL: ("subject", "html", "text"), Channel.SMS: ("body",)}
SEND_TEST_PERMISSION = "campaigns.add_message"
CUSTOMERS_LISTED = 20


def check(channel: str, values: dict) -> list[rendering.Problem]:
    sources = {name: values.get(name) or "" for name in FIELDS[channel]}
    return rendering.check_template(channel, **sources, opt_out_text=settings.SMS_OPT_OUT_TEXT)


class MessageTemplateForm(forms.ModelForm):
    """The template form: errors of the check on their field and line, warnings kept for the page."""

    class Meta:
        model = MessageTemplate
        fields = ["name", "channel", "subject", "html", "text", "body"]
        widgets = {
            "channel": forms.RadioSelect,
            "subject": forms.TextInput(attrs={"class": "vTextField segcampaign-wide"}),
            "html": forms.Textarea(attrs={"rows": 18, "class": "segcampaign-code"}),
            "text": forms.Textarea(attrs={"rows": 8, "class": "segcampaign-code"}),
            "body": forms.Textarea(attrs={"rows": 5, "class": "segcampaign-code"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:  # not for whoever may only look
            self.fields["channel"].choices = Channel.choices  # no blank choice among the radio buttons
        self.warnings: list[str] = []
        if not self.is_bound and self.instance.pk:
            self.warnings = self._warnings(check(self.instance.channel, vars(self.instance)))

    @staticmethod
    def _warnings(problems) -> list[str]:
        return [f"{p.field}: {problem_text(p)}" for p in problems if p.level == "warning"]

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if channel not in FIELDS:
            return cleaned
        problems = check(channel, cleaned)
        self.warnings = self._warnings(problems)
        for problem in problems:
            if problem.level == "error":
                self.add_error(problem.field if problem.field in self.fields else None, problem_text(problem))
        if self.instance.pk and channel != self.instance.channel:
            used = Rule.objects.filter(variants__template=self.instance).exclude(channel=channel)
            used = used.select_related("campaign").distinct()
            if used:
                names = ", ".join(f"rule {rule.priority} of {rule.campaign.name}" for rule in used)
                self.add_error("channel", f"This template is sent by {names}, which send "
                                          f"{used[0].get_channel_display()}: make a new template for the other "
                                          "channel instead.")
        return cleaned


class PreviewForm(forms.Form):
    """Whom to preview for: a customer found by the shop's id, email or phone, or a segment's member."""

    find = forms.CharField(
        label="Customer", required=False,
        widget=forms.TextInput(attrs={"placeholder": "customer id, email or phone", "size": 30}),
        help_text="The shop's customer id, the beginning of an email address, or a phone number.",
    )
    segment = forms.TypedChoiceField(
        label="or a customer of the segment", required=False, coerce=int, empty_value=None,
        help_text="Any one of its current members.",
        error_messages={"invalid_choice": "No customer is in that segment now: choose another."},
    )

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", "—"), *((s.pk, s.name) for s in segments)]


class SendTestForm(forms.Form):
    to = forms.CharField(label="Send a test to", max_length=254)

    def __init__(self, *args, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel == Channel.EMAIL:
            self.fields["to"].help_text = "An email address of yours. The subject starts with [TEST]."
            self.fields["to"].widget.attrs["placeholder"] = "you@your-shop.com"
        else:
            self.fields["to"].help_text = "A mobile number of yours. The text starts with [TEST]."
            self.fields["to"].widget.attrs["placeholder"] = "+44 7700 900123"

    def clean_to(self):
        to = self.cleaned_data["to"].strip()
        if self.channel == Channel.EMAIL:
            validate_email(to)
            return to
        number = as_e164(to)
        if number is None:
            raise forms.ValidationError(
                "This is not a phone number; write it with its country code, e.g. +44 7700 900123.")
        return number


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("name", "channel", "summary", "used_by", "updated_at")
    list_filter = ("channel",)
    search_fields = ("name", "subject")
    save_on_top = True
    fieldsets = (
        (None, {"fields": ("name", "channel")}),
        ("Email", {
            "fields": ("subject", "html", "text"),
            "classes": ("segcampaign-email-fields",),
            "description": "The subject line and the email itself. Write the HTML as you would for any email; "
            "leave the text part empty and it is made from the HTML (for mail programs that show no HTML). "
            "Every email needs a link to {{ links.unsubscribe }}.",
        }),
        ("SMS", {
            "fields": ("body",),
            "classes": ("segcampaign-sms-fields",),
            "description": "The text message. The opt-out text is added at the end when it is missing.",
        }),
    )

    @admin.display(description="subject or text")
    def summary(self, template: MessageTemplate) -> str:
        text = template.subject if template.channel == Channel.EMAIL else template.body
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="used by rules", ordering="rules_using")
    def used_by(self, template: MessageTemplate) -> int:
        return template.rules_using

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rules_using=Count("variants"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in form.warnings:
            messages.warning(request, f"Saved, but look at this: {warning}")

    # -- URLs

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/preview/", view(self.preview_view), name="%s_%s_preview" % info),
            path("<path:object_id>/send-test/", view(require_POST(self.send_test_view)),
                 name="%s_%s_send_test" % info),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        template = self.get_object(request, object_id)
        extra = {"sms_counter": self._sms_counter()}
        if template is not None:
            extra["preview_url"] = reverse("admin:campaigns_messagetemplate_preview", args=[template.pk])
            used = Rule.objects.filter(variants__template=template).select_related("campaign")
            extra["rules_using"] = used.distinct()
        return super().change_view(request, object_id, form_url, extra_context={**(extra_context or {}), **extra})

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, extra_context={**(extra_context or {}),
                                                                  "sms_counter": self._sms_counter()})

    @staticmethod
    def _sms_counter() -> dict:
        """What the page's SMS counter needs to count as a phone does."""
        return {"basic": GSM7_BASIC, "extension": GSM7_EXTENSION, "opt_out": settings.SMS_OPT_OUT_TEXT.strip(),
                "single_gsm7": SINGLE_GSM7, "part_gsm7": PART_GSM7, "single_ucs2": SINGLE_UCS2,
                "part_ucs2": PART_UCS2}

    # -- preview and test send

    def _may_send_tests(self, request) -> bool:
        return request.user.has_perm(SEND_TEST_PERMISSION)

    def _choice(self, request) -> dict:
        """Whom the preview is for, from the query string (the test send's too): customer_id,
        find (a search), segment, rule."""
        query = request.GET
        rule = None
        if query.get("rule", "").isdigit():
            rule = Rule.objects.select_related("campaign").filter(pk=int(query["rule"])).first()
        segments = list(rule.segments.all()) if rule else list(selectors.live_segments())
        form = PreviewForm(query, segments=segments)
        form.is_valid()  # a field that is not valid is left out of cleaned_data, and its error shown
        data = form.cleaned_data
        choice = {"rule": rule, "form": form, "customer_id": None, "segment_id": data.get("segment"),
                  "matches": [], "not_found": ""}
        if query.get("customer_id", "").isdigit():
            choice["customer_id"] = int(query["customer_id"])
        elif data.get("find"):
            found = selectors.customers_search(data["find"], phone=as_e164(data["find"]), limit=CUSTOMERS_LISTED)
            if len(found) == 1:
                choice["customer_id"] = found[0].pk
            elif found:
                choice["matches"] = found
            else:
                choice["not_found"] = data["find"]
        return choice

    def _query(self, choice: dict, **extra) -> str:
        params = {"rule": choice["rule"].pk if choice["rule"] else None, "customer_id": choice["customer_id"],
                  "segment": choice["segment_id"], **extra}
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})

    def preview_view(self, request, object_id):
        template = get_object_or_404(MessageTemplate, pk=object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        choice = self._choice(request)
        preview, error = None, ""
        if not choice["matches"]:
            try:
                recipient = services.preview_recipient(
                    customer_id=choice["customer_id"], segment_id=choice["segment_id"], rule=choice["rule"]
                )
            except LookupError as exc:
                error = str(exc)
            else:
                preview = services.template_preview(template=template, recipient=recipient)
        preview_url = reverse("admin:campaigns_messagetemplate_preview", args=[template.pk])
        rule = choice["rule"]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Preview of {template.name}",
            "template": template,
            "original": template,
            "choice": choice,
            "preview": preview,
            "error": error,
            "shown": self._shown(template, preview) if preview else {},
            "matches": [
                {"customer": c, "url": f"{preview_url}?{self._query(choice, customer_id=c.pk, segment=None)}"}
                for c in choice["matches"]
            ],
            "send_form": SendTestForm(channel=template.channel),
            "may_send_tests": self._may_send_tests(request),
            # The test goes to exactly the customer shown (a segment's member is found again otherwise).
            "send_url": reverse("admin:campaigns_messagetemplate_send_test", args=[template.pk])
            + f"?{self._query(choice, customer_id=preview and preview.recipient.customer_id or choice['customer_id'])}",
            "change_url": reverse("admin:campaigns_messagetemplate_change", args=[template.pk]),
            "campaign_url": admin_url("campaigns_campaign_change", rule.campaign_id) if rule else None,
        }
        return TemplateResponse(request, "admin/campaigns/messagetemplate/preview.html", context)

    def _shown(self, template: MessageTemplate, preview: services.Preview) -> dict:
        rendered = preview.rendered
        if rendered is None:
            return {}
        customer = preview.recipient.context["customer"]
        if template.channel == Channel.EMAIL:
            return {
                "to": customer.email or "(this customer has no email address)",
                "from": settings.DEFAULT_FROM_EMAIL,
                "subject": rendered.subject,
                "html": html_frame(rendered.html) if rendered.html else None,
                "text": rendered.text,
                "text_generated": not template.text.strip() and bool(template.html.strip()),
            }
        return {"to": customer.phone or "(this customer has no phone number)", "body": rendered.body,
                "length": sms_length_text(rendered.length)}

    def send_test_view(self, request, object_id):
        template = get_object_or_404(MessageTemplate, pk=object_id)
        if not (self.has_view_permission(request, template) and self._may_send_tests(request)):
            raise PermissionDenied
        choice = self._choice(request)
        back = reverse("admin:campaigns_messagetemplate_preview", args=[template.pk]) + f"?{self._query(choice)}"
        form = SendTestForm(request.POST, channel=template.channel)
        if not form.is_valid():
            messages.error(request, f"Nothing was sent: {' '.join(form.errors['to'])}")
            return HttpResponseRedirect(back)
        to = form.cleaned_data["to"]
        try:
            recipient = services.preview_recipient(
                customer_id=choice["customer_id"], segment_id=choice["segment_id"], rule=choice["rule"]
            )
            result = services.template_send_test(template=template, recipient=recipient, to=to)
        except (LookupError, rendering.TemplateInvalid, rendering.RenderError) as exc:
            messages.error(request, f"Nothing was sent: {exc}")
            return HttpResponseRedirect(back)
        if result.ok:
            via = f" (the provider's id: {result.provider_id})" if result.provider_id else ""
            messages.success(request, f"The test was sent to {to}, as {recipient.description} would get it{via}.")
        else:
            messages.error(request, f"The test to {to} was not sent: {result.error.message}")
        return HttpResponseRedirect(back)


def variant_preview_url(variant: Variant) -> str:
    """The preview of a rule's template with the rule's offer and segments."""
    url = reverse("admin:campaigns_messagetemplate_preview", args=[variant.template_id])
    return f"{url}?{urlencode({'rule': variant.rule_id})}"
