# Two commands do all set-up on a fresh machine (Python 3.11, pip, make):
#   make demo   runs the demo migration end to end on the embedded AWS
#   make test   runs the test suite (what .ci/run calls)
# Both create .venv on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench mutation clean test-large

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/avp-migrate demo

# Two workers (pytest-xdist), one per core of the CI machine: each has its own embedded AWS on free ports.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

# Mutation testing of the authorizer's token checks, decision cache and policy document (slow: not in `test`).
test-large: $(STAMP)
	$(BIN)/python -m pytest -m large

mutation: $(STAMP)
	$(BIN)/python tools/mutation.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-output
