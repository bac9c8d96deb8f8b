# The two commands that matter: `make demo` and `make test`. Everything is installed into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test serve install migrate worker beat bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --no-input

## Run the whole loop on the embedded default (SQLite, Celery eager) and print what it learned.
demo: migrate
	$(PY) manage.py demo

## The whole test suite (PostgreSQL when DATABASE_URL points at it; see README).
test: install
	$(PY) -m pytest

## Admin at http://127.0.0.1:8000/admin/ (the demo prints a login).
serve: migrate
	$(PY) manage.py runserver 127.0.0.1:8000

worker: install
	$(VENV)/bin/celery -A segcampaign worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A segcampaign beat --loglevel=INFO

## Benchmarks need PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make bench
bench: migrate
	$(PY) bench/import_orders.py
	$(PY) bench/segmentation.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .pytest_cache
