"""`make demo` run again: the admin login it made the first time is printed again, never reset."""

import io
import re
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.fixture
def login_file(settings, tmp_path):
    settings.DEBUG = True  # as under make demo (pytest-django turns it off)
    settings.DEMO_LOGIN_FILE = tmp_path / ".demo-login"
    return settings.DEMO_LOGIN_FILE


def demo_login():
    out = io.StringIO()
    call_command("demo", customers=100, stdout=out)
    return re.search(r"Login: +admin / (.+)", out.getvalue()).group(1)


@pytest.mark.django_db
def test_a_second_demo_prints_the_login_of_the_first_and_keeps_its_password(login_file):
    first = demo_login()
    second = demo_login()

    assert second == first
    assert get_user_model().objects.get(username="admin").check_password(first)
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    assert login_file.read_text() == f"admin {first}\n"


@pytest.mark.django_db
def test_a_password_changed_since_is_left_alone_and_the_demo_says_how_to_reset_it(login_file):
    demo_login()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("the owner's own")
    admin.save()

    assert demo_login() == "(unchanged; set a new one with: python manage.py changepassword admin)"
    assert get_user_model().objects.get(username="admin").check_password("the owner's own")
