# The README's commands. `make run` serves the demo portal; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test test-deps lint format bench translations extract-messages install vendor-assets browser system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

install: system-deps $(STAMP) translations

# Debian libraries the portal needs at run time: pango for WeasyPrint (the meeting PDF exports). Installed when run as
# root; otherwise it says what to install.
SYSTEM_LIBS := libpango-1.0-0 libpangoft2-1.0-0
system-deps:
	@missing=""; for lib in $(SYSTEM_LIBS); do dpkg -s $$lib >/dev/null 2>&1 || missing="$$missing $$lib"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "PDF exports need:$$missing (sudo apt-get install$$missing)"; fi; fi

translations: $(STAMP)
	@$(BIN)/pybabel compile -d portal/translations >/dev/null

# --ignore-dirs replaces Babel's default, which also skips every directory starting with "_" (templates/_macros).
# The domain errors' messages are msgids too (the views translate them with portal.core.i18n.error_text): the first
# argument of each error class, and the message argument of the meetings' status guard.
ERROR_KEYWORDS := -k ValidationFailed -k Conflict -k PermissionDenied -k NotFound -k DomainError -k require_status:3
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext $(ERROR_KEYWORDS) --ignore-dirs '.* __pycache__ node_modules' -o portal/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i portal/translations/messages.pot -d portal/translations

# The socket origin check compares against PORTAL_BASE_URL: follow HOST and PORT unless it is set.
run: export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask portal demo load
	@$(BIN)/flask portal demo accounts
	@echo "Sign in at http://$(HOST):$(PORT)/auth/login"
	$(BIN)/flask portal serve --host $(HOST) --port $(PORT)

# Debian's chromium serves the browser tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: browser tests will be skipped (sudo apt-get install chromium)"; fi; }

# Test-only JavaScript (axe-core for the browser tests), pinned in tests/e2e/package-lock.json.
test-deps:
	@test -d tests/e2e/node_modules || npm ci --prefix tests/e2e --no-audit --no-fund --silent
	@test -d tests/oidc/node_modules || npm ci --prefix tests/oidc --no-audit --no-fund --silent  # the real OpenID provider (oidc-provider) for the SSO tests

test: install browser test-deps
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmark (bench/README.md): PostgreSQL and Redis on 127.0.0.1, Node for the anchor and the load generators.
# `make bench BENCH_ARGS=--quick` takes a few minutes; the full run stays under ~20 minutes on 2 cores.
bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund

bench: install bench/node_modules/.package-lock.json
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/meetings.py
	$(BIN)/python bench/privacy.py

vendor-assets:
	bash scripts/vendor-assets.sh

clean:
	rm -rf $(VENV) instance/portal.sqlite3
