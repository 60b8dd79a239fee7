# Two commands on a fresh Debian machine with Python:
#   make run   installs what is missing, then starts Mailroom with demo users and letters
#   make test  installs the same, then runs the linter and the whole test suite
# Both are idempotent: a second run installs nothing.
# Python packages: requirements.lock is what `pip install .` needs (the service, the image);
# requirements-test.lock is the rest of the `test` extra. `make run` installs the first, `make test` both.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := tesseract-ocr tesseract-ocr-osd tesseract-ocr-pol tesseract-ocr-ces tesseract-ocr-rus \
                tesseract-ocr-eng redis-server fonts-dejavu-core python3-venv postgresql dovecot-imapd chromium \
                libpython3.11-testsuite libpango-1.0-0 libpangoft2-1.0-0
# The suite runs in one pytest process more than there are cores (pytest-xdist): many tests wait on servers,
# browsers and child processes, so a third process on two cores fills the idle time (2 cores: 28 → 15 min).
TEST_PROCESSES ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST_ARGS ?= -n $(TEST_PROCESSES)
LOCALES  := en pl cs ru
PO_FILES := $(foreach l,$(LOCALES),ground/locale/$(l)/LC_MESSAGES/mailroom.po)
MO_FILES := $(PO_FILES:.po=.mo)
LEMMA_TRIES := storage/lemma_tries/.built

.PHONY: run test install install-test apt lint hadolint bench lock clean i18n-extract i18n-update i18n-compile

run: install
	$(BIN)/mailroom serve --demo

test: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest -q $(PYTEST_ARGS)

install: apt $(STAMP) web/static/vendor/htmx.min.js web/static/vendor/axe.min.js web/static/vendor/chart.umd.min.js \
         $(MO_FILES) $(LEMMA_TRIES)

install-test: install $(TEST_STAMP)

# Front-end libraries come from the npm registry (package.json + lock), copied into web/static:
# htmx for the pages, axe-core for the accessibility test (tests/test_a11y.py), Chart.js for the reports.
web/static/vendor/htmx.min.js web/static/vendor/axe.min.js web/static/vendor/chart.umd.min.js &: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

# simplemma's lemma tables as MARISA tries (storage/lemmas.py): mapped in milliseconds where decoding the
# tables costs every process about 0.4 s. Rebuilt for a new simplemma (the directory names its version).
$(LEMMA_TRIES): $(STAMP)
	$(BIN)/python -m storage.lemmas
	touch $@

# Translations (ground/i18n.py): the .po catalogs are committed, their compiled .mo files are built here.
# After changing strings: `make i18n-extract i18n-update`, translate the new entries, commit the .po files.
BABEL_KEYWORDS := -k N_ -k NC_:1c,2

ground/locale/%/LC_MESSAGES/mailroom.mo: ground/locale/%/LC_MESSAGES/mailroom.po | $(STAMP)
	$(BIN)/pybabel -q compile -D mailroom -d ground/locale -l $*

i18n-compile: $(MO_FILES)

i18n-extract: | $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --add-comments=Translators: --sort-by-file \
	  --no-wrap --project=Mailroom --version=0.1.0 -o ground/locale/mailroom.pot ground web mailroom replies

i18n-update: | $(STAMP)
	$(BIN)/pybabel -q update -D mailroom -i ground/locale/mailroom.pot -d ground/locale --no-wrap \
	  --ignore-obsolete --no-fuzzy-matching

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# npm: any existing Node.js install will do; Debian's package only when there is none.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }

# Runtime packages. A changed lock re-installs; so does a changed pyproject.toml (the editable install).
$(STAMP): requirements.lock pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# Test tools on top, pinned together with the runtime lock; redone when either lock changes
# (the runtime stamp is a prerequisite, so a re-installed runtime re-checks the test packages too).
$(TEST_STAMP): requirements-test.lock requirements.lock $(STAMP)
	$(BIN)/python -m pip install -q -r requirements.lock -r requirements-test.lock
	touch $(TEST_STAMP)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

hadolint: install-test
	$(BIN)/hadolint Dockerfile

bench: install
	$(BIN)/python -m bench.pipeline

# Re-pin after changing dependencies in pyproject.toml. Resolved in a scratch venv, so requirements.lock
# holds exactly what `pip install .` pulls in and requirements-test.lock what `.[test]` adds to it.
# Today's pins are kept (constraints); `make lock UPGRADE=1` resolves everything afresh.
LOCK_VENV := $(VENV)/lock-venv
LOCK_PINS  = $(if $(UPGRADE),,$(foreach f,$(wildcard requirements.lock requirements-test.lock),-c $(f)))
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q $(LOCK_PINS) .
	$(LOCK_VENV)/bin/python -m pip freeze --exclude mailroom > $(LOCK_VENV)/runtime.lock
	$(LOCK_VENV)/bin/python -m pip install -q $(LOCK_PINS) -c $(LOCK_VENV)/runtime.lock '.[test]'
	$(LOCK_VENV)/bin/python -m pip freeze --exclude mailroom | grep -vxFf $(LOCK_VENV)/runtime.lock \
	  > $(LOCK_VENV)/test.lock || true
	$(LOCK_VENV)/bin/python -m pip check
	mv $(LOCK_VENV)/runtime.lock requirements.lock
	mv $(LOCK_VENV)/test.lock requirements-test.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
