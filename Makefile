# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run demo test lint worker migrate clean-venv

# The venv is rebuilt when requirements.txt or pyproject.toml changes.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

## Migrate the database, start the worker and the web app (Ctrl-C stops both).
run: $(VENV)/.installed
	$(BIN)/moodlab serve --port $(PORT)

## A labelled demo workspace in ./demo (generated data, a few minutes to build), served.
demo: $(VENV)/.installed
	$(BIN)/moodlab demo --port $(PORT)

## Lint, then the whole test suite (browser tests included).
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrate: $(VENV)/.installed
	$(BIN)/moodlab migrate

worker: $(VENV)/.installed
	$(BIN)/moodlab worker

clean-venv:
	rm -rf $(VENV)
