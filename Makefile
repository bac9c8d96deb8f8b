# The two commands that matter: `make demo` and `make test`. Everything is installed into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The tool that writes requirements.lock; pinned so that a re-lock changes versions, not layout.
UV := uv==0.13.9
# Extra flags for `make lock`, e.g. LOCK_FLAGS=--upgrade (see README, "Dependencies").
LOCK_FLAGS ?=

.PHONY: demo test serve start install lock migrate worker beat bench browser clean

# Exactly the versions and files (hashes) in requirements.lock, which CI tested.
$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

## Pin requirements.txt's ranges into requirements.lock: one version per package for every
## platform and Python >= 3.11, each with the hashes of its files on PyPI.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(UV)"
	$(VENV)/bin/uv pip compile requirements.txt --output-file requirements.lock --generate-hashes \
		--universal --python-version 3.11 --fork-strategy fewest --custom-compile-command "make lock" \
		--quiet $(LOCK_FLAGS)

# Settings default to production (DEBUG off); the development targets turn DEBUG on unless told otherwise.
demo serve bench: export DEBUG ?= true

# This checkout's development settings, kept so that `python manage.py ...` works by hand too.
# Written once with a random key (an existing .env is never touched), readable by its owner only.
.env:
	umask 077 && printf '# Development settings written by `make demo`; never use them in production.\nDEBUG=true\nSECRET_KEY=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@

migrate: install
	$(PY) manage.py migrate --no-input

## Run the whole loop on the embedded default (SQLite, Celery eager) and print what it learned.
demo: .env migrate
	$(PY) manage.py demo

## The whole test suite (PostgreSQL when DATABASE_URL points at it; see README). PYTEST_ARGS are passed
## on, e.g. PYTEST_ARGS='-m "not postgres"' or PYTEST_ARGS=tests/test_settings.py.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

## The browser the browser tests drive (tests/browser): Debian's Chromium, installed with apt-get when
## /usr/bin/chromium is missing. Never `playwright install`: it downloads a browser build of its own.
## Needs root (as CI runs); elsewhere install the `chromium` package by hand, or the tests skip.
CHROMIUM := /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then echo "$(CHROMIUM) is installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; fi
	@$(CHROMIUM) --version 2>/dev/null

## Admin at http://127.0.0.1:8000/admin/ (the demo prints a login).
serve: .env migrate
	$(PY) manage.py runserver 127.0.0.1:8000

## web, worker and beat from the Procfile, in the foreground, with the settings of the environment (README,
## "Production"); web listens on 127.0.0.1:5000 (honcho's PORT). Run `make install` and migrate first.
## settings.py reads .env beneath the environment; honcho would read it above, so it is told not to.
start:
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start --env /dev/null

worker: install
	$(VENV)/bin/celery -A segcampaign worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A segcampaign beat --loglevel=INFO

## Every benchmark (README, "Benchmarks"); all but the first three need PostgreSQL:
## DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench. The shop of 1,000,000 customers
## is loaded once and kept; the import benchmark runs last because it empties the customer and
## order tables (the next `make bench` loads the shop again). BENCH_ARGS go to segmentation.py.
## bench/campaign.py also needs Redis: BENCH_REDIS_URL, default redis://127.0.0.1:6379/15.
bench: migrate
	$(PY) bench/render.py
	$(PY) bench/k_choice.py
	$(PY) bench/clustering_algorithms.py
	$(PY) bench/segmentation.py --reuse $(BENCH_ARGS)
	$(PY) bench/admin_lists.py
	$(PY) bench/campaign.py
	$(PY) bench/import_orders.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .pytest_cache
