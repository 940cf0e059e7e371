# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BABEL := $(BIN)/pybabel
LOCALES := locales
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test setup lint i18n bench clean diagrams reliability

run: setup $(MO_FILES)
	$(BIN)/mentorbot run

test: lint $(MO_FILES)
	$(BIN)/python -m pytest

# The reliability suite (tests/reliability) at full sizes: crash, faults, fuzz, opt-out under
# concurrency, a PostgreSQL restart. `make test` runs it at quick sizes. Figures at the end.
reliability: setup $(MO_FILES)
	MENTORBOT_RELIABILITY=full $(BIN)/python -m pytest -o timeout=3600 tests/reliability

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Catalogs: extract from the code, merge into each language, compile (.mo files are built, not committed).
i18n: setup
	$(BABEL) extract -F babel.cfg -k _ -k N_ -k N_plural:1,2 -k ngettext:1,2 --no-location --sort-output \
		-w 99 --project mentorbot --copyright-holder "mentorbot contributors" \
		-o $(LOCALES)/messages.pot .
	$(BABEL) update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages -w 99 \
		--ignore-pot-creation-date --no-fuzzy-matching
	$(BABEL) compile -d $(LOCALES) -D messages --statistics

%.mo: %.po
	$(BABEL) compile -i $< -o $@

# Code, import contracts, the Dockerfile (hadolint) and docker-compose.yml (the Compose
# specification's JSON schema, as check-jsonschema ships it); tests/test_deploy_kit.py also
# runs `docker-compose config` on it.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

bench: setup $(MO_FILES)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
	find $(LOCALES) -name '*.mo' -delete

diagrams: setup
	$(BIN)/python -m handlers.diagram
