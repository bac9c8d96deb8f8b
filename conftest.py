"""Sets Django up for the tests with DEBUG on (the development settings: the development key, plain
static files, no redirect to https), however pytest is started: `make test`, `python -m pytest` in a
fresh clone, an IDE.

pytest-django imports the settings before any conftest.py when pytest.ini names them, too early to set
DEBUG. This file, the first conftest pytest imports, names them instead and sets Django up before
the conftests below it import models; pytest-django finds Django set up and carries on.
"""

import os

import django

os.environ["DEBUG"] = "true"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segcampaign.settings")
django.setup()
