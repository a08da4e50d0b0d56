# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= small

.PHONY: run test lint install clean-state

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Start the embedded PostgreSQL, migrate, seed SCALE (default small) and show the timeline plan.
run: $(STAMP)
	$(BIN)/lab db start
	$(BIN)/lab seed --scale $(SCALE)
	$(BIN)/lab migrate
	$(BIN)/lab explain home_timeline_seed
	$(BIN)/lab explain home_timeline_pull

## The whole test suite against the embedded PostgreSQL (LAB_TEST_DATABASE_URL to switch).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check lab tests
	$(BIN)/mypy lab

## Stop the embedded server and delete local state (.lab/).
clean-state: $(STAMP)
	-$(BIN)/lab db stop
	rm -rf .lab
