# Wellness: two commands for a newcomer, `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WORKERS ?= 3
export FLASK_APP := wellness

.PHONY: help run test test-pg lint fmt install install-test translations compile-translations \
        db-upgrade seed scheduler clean system-packages

help:
	@echo "make run        install, migrate, load demo data, serve on http://127.0.0.1:$(PORT) + scheduler"
	@echo "make test       install test dependencies and run the whole suite"
	@echo "make test-pg    the suite against PostgreSQL (TEST_DATABASE_URL, default local 'test' db)"
	@echo "make lint       ruff checks;  make fmt  ruff format + import sort"
	@echo "make translations   extract strings and update the zh/en catalogues"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

compile-translations: install
	$(BIN)/pybabel compile -d translations --statistics

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot \
		--no-location --sort-output .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching \
		--ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics

db-upgrade: install
	$(BIN)/flask db upgrade

seed: db-upgrade
	$(BIN)/flask seed demo

run: compile-translations db-upgrade
	@if $(BIN)/flask seed is-empty; then $(BIN)/flask seed demo; \
	else echo "Database has data; demo logins (password Wellness-2026): admin 13800138000, counselor 13800138101, worker 13900000000"; fi
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C stops the web server and the scheduler)"
	@bash scripts/serve.sh $(BIN) $(PORT) $(WORKERS)

scheduler: install
	$(BIN)/flask scheduler run

system-packages:
	@bash scripts/system-packages.sh

test: install-test compile-translations system-packages
	$(BIN)/python -m pytest

test-pg: install-test compile-translations system-packages
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check wellness tests $(wildcard bench)
	$(BIN)/ruff format --check wellness tests $(wildcard bench)

fmt: install-test
	$(BIN)/ruff check --fix --select I wellness tests $(wildcard bench)
	$(BIN)/ruff format wellness tests $(wildcard bench)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
