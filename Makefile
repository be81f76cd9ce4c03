# OrderPulse: two commands do all set-up on a fresh machine with Python 3.11+ and make.
#   make demo   — install into .venv, migrate the embedded SQLite database, serve the demo
#   make test   — install into .venv with test extras, run the linters (make lint), then the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench install install-test clean assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/orderpulse demo

# Every .op file in the repository is in canonical form, except the formatter's own test inputs
# (tests/dsl/fixtures/, kept hand-aligned on purpose). Configuration of ruff and mypy: pyproject.toml.
OP_FILES = $(shell git ls-files '*.op' 2>/dev/null | grep -v '^tests/dsl/fixtures/' || find . -name '*.op' -not -path './tests/dsl/fixtures/*' -not -path './.venv/*')

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	@for f in $(OP_FILES); do $(BIN)/orderpulse fmt --check "$$f" >/dev/null || { echo "error: $$f is not formatted (run: orderpulse fmt $$f)"; exit 1; }; done; \
	echo "every .op file is formatted"

# pytest exits 5 when it collected no tests: that is a failure here, never a pass.
# SKIP_LINT=1 runs the suite alone (CI lints once, then runs both back ends side by side).
test: install-test $(if $(filter 1,$(SKIP_LINT)),,lint)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: no tests ran"; exit 1; fi; exit $$rc

# Speed measurements (not part of CI): each prints ratios against a baseline in the same run.
bench: install-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/expressions.py
	$(BIN)/python bench/pricing.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/addresses.py
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/orders_intake.py
	$(BIN)/python bench/orders_pull.py
	$(BIN)/python bench/outbox_wake.py
	$(BIN)/python bench/mapping.py
	$(BIN)/python bench/builder.py

clean:
	rm -rf $(VENV) orderpulse.db orderpulse.db-wal orderpulse.db-shm .pytest_cache

# Vendored browser assets (needs Node and npm; the built files are committed, so demo and test do not).
assets:
	cd builder_ui/assets && npm ci --no-audit --no-fund && node build.mjs
