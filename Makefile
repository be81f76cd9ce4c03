# OrderPulse: two commands do all set-up on a fresh machine with Python 3.11+ and make.
#   make demo   — install into .venv, migrate the embedded SQLite database, serve the demo
#   make test   — install into .venv with test extras, run the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test bench install install-test clean

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

# pytest exits 5 when it collected no tests: that is a failure here, never a pass.
test: install-test
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: no tests ran"; exit 1; fi; exit $$rc

# Speed measurements (not part of CI): each prints ratios against a baseline in the same run.
bench: install-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/expressions.py
	$(BIN)/python bench/pricing.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/orders_intake.py
	$(BIN)/python bench/orders_pull.py
	$(BIN)/python bench/mapping.py

clean:
	rm -rf $(VENV) orderpulse.db orderpulse.db-wal orderpulse.db-shm .pytest_cache
