# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCALE  ?= small
SCENARIO ?= seed
REPORTS ?= reports

.PHONY: run test lint install tools clean-state

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## System programs a pip install cannot bring (PgBouncer, for SC4's pooled path): installed
## with apt-get when this runs as root or with passwordless sudo, else one line says how.
tools: $(STAMP)
	@$(BIN)/lab tools --install || true

## The main job, the seed's acceptance run: 1000 simulated users against the API on a fresh
## copy of the `small` dataset (embedded PostgreSQL, seeded once), a connection check, the
## plans, then the verdict table of every criterion; run folders go to $(REPORTS).
## A run that completed counts as success here even when a criterion failed (exit 2) or the
## run was invalid (3): the verdict is in the table and the report; nightly jobs call
## `lab run` directly to act on its exit code.
run: $(STAMP) tools
	$(BIN)/lab db start
	@$(BIN)/lab run --scenario $(SCENARIO) --scale $(SCALE) --reports $(REPORTS) $(RUN_ARGS); status=$$?; \
	  if [ $$status -eq 2 ] || [ $$status -eq 3 ]; then \
	    echo "make run: the run completed; its verdict is above (lab run exited $$status)"; \
	  elif [ $$status -ne 0 ]; then exit $$status; fi

## The whole test suite against the embedded PostgreSQL (LAB_TEST_DATABASE_URL to switch), on
## TEST_WORKERS pytest-xdist workers, each with an embedded server of its own; the tests that
## load the machine run one at a time on one of them. A server given by URL is shared, so
## its tests run in one process.
TEST_WORKERS ?= $(if $(LAB_TEST_DATABASE_URL),0,2)
test: $(STAMP) tools
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check lab tests
	$(BIN)/mypy lab
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml

## Stop the embedded server and delete local state (.lab/).
clean-state: $(STAMP)
	-$(BIN)/lab db stop
	rm -rf .lab
