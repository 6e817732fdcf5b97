# The two commands of the README, plus lint (ruff, import-linter, mypy). Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format clean check-readme container-check

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Warmup needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The scripts run on the virtualenv's Python: it has the embedded PostgreSQL's wheel.
run: $(STAMP)
	$(BIN)/python scripts/run-demo

test: $(STAMP)
	$(BIN)/python scripts/test $(ARGS)

# Every shell example of README.md, run as written against a fresh `make run`.
check-readme: $(STAMP)
	$(BIN)/python scripts/check-readme

# docker/Dockerfile built and docker/compose.yaml run for real with Podman, then checked
# (root, Debian; README "Deploying with Docker"). Standard library only: no virtualenv.
container-check:
	$(PYTHON) scripts/container-check $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis .import_linter_cache *.egg-info
