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
        user = User.objects.create_user("marketer", password="not-used", is_staff=True)
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
