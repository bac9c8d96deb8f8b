"""Fixtures of the campaigns admin tests: fake providers at their one boundary, staff users with
chosen permissions, and form data for the campaign page."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from campaigns.channels import sms


@pytest.fixture
def providers(settings):
    """anymail's test backend (django.core.mail.outbox) and the locmem SMS backend."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def staff_client(db, client):
    """A client logged in as a staff member holding only the given campaigns permissions."""

    def login(*codenames):
        user = User.objects.create_user(f"marketer{User.objects.count()}", password="not-used", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="campaigns",
                                                            codename__in=codenames))
        client.force_login(user)
        return client

    return login


def url(name, *args):
    return reverse(f"admin:campaigns_{name}", args=args)


def errors_of(response):
    """Every error the admin page shows (form and formsets), as text."""
    context = response.context
    found = [str(e) for e in context["adminform"].form.errors.values()] if "adminform" in context else []
    for formset in context.get("inline_admin_formsets", []):
        found += [str(formset.formset.non_form_errors())]
        found += [str(errors) for errors in formset.formset.errors]
    return " ".join(found)


def campaign_form(name="Spring sale", **fields):
    """The campaign page's form as a browser posts it: no schedule, nobody held out, no quiet hours
    or cap, and no rules (add them with rule_form)."""
    data = {
        "name": name, "description": "", "when": "never", "schedule_at_0": "", "schedule_at_1": "",
        "repeat": "weekly", "repeat_time": "", "repeat_weekday": "1", "repeat_day": "1", "schedule_cron": "",
        "holdout_percent": "0", "goal_kind": "any_order", "goal_code": "", "goal_amount": "", "attribution_days": "7",
        "quiet_start": "", "quiet_end": "", "frequency_cap_messages": "", "frequency_cap_days": "7",
        "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


def rule_form(data, *, priority, channel, segments, variants, conditions=(), offer=("", "", ""), rule=None):
    """Add one rule's fields to a campaign form: conditions as (field, op, value) rows, variants as
    (template, weight) rows, the way the row editors post them."""
    i = int(data["rules-TOTAL_FORMS"])
    prefix = f"rules-{i}-"
    data.update({
        "rules-TOTAL_FORMS": str(i + 1),
        f"{prefix}priority": str(priority), f"{prefix}channel": channel,
        f"{prefix}segments": [str(s.pk) for s in segments],
        f"{prefix}offer_code": offer[0], f"{prefix}offer_discount": offer[1], f"{prefix}offer_expires_days": offer[2],
    })
    for j, (field, op, value) in enumerate(conditions):
        data.update({f"{prefix}conditions-{j}-field": field, f"{prefix}conditions-{j}-op": op,
                     f"{prefix}conditions-{j}-value": value})
    for j, (template, weight) in enumerate(variants):
        data.update({f"{prefix}variants-{j}-template": str(template.pk), f"{prefix}variants-{j}-weight": str(weight)})
    if rule is not None:
        data["rules-INITIAL_FORMS"] = str(int(data["rules-INITIAL_FORMS"]) + 1)
        data.update({f"{prefix}id": str(rule.pk), f"{prefix}campaign": str(rule.campaign_id)})
    return data
