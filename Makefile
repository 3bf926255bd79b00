# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# What messages call the command: `make run`, `make test`, ...
GOAL := make$(if $(MAKECMDGOALS), $(firstword $(MAKECMDGOALS)))

.PHONY: run demo test test-packages test-sqlite test-sqlite-parallel test-sqlite-alone test-postgres lint typecheck worker migrate clean-venv bench bench-deps bytecode

# The venv is rebuilt when requirements.txt or pyproject.toml changes.
# Debian's python3 needs its python3-venv package for that (.ci/debian-packages).
# The packages are installed by uv (pinned here, itself installed by pip into the venv):
# it fetches and unpacks in parallel, about 3 times as fast as pip here
# (docs/development.md). The first install downloads TensorFlow.
UV_VERSION := 0.13.9
UV_INSTALL = $(BIN)/python -m uv pip install --python $(BIN)/python --compile-bytecode
$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(BIN)/python || PYTHON=$(PYTHON) .ci/debian-packages --caller "$(GOAL)" python3-venv
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "$(GOAL): installing moodlab's Python packages into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(UV_INSTALL) -r requirements.txt
	$(UV_INSTALL) --no-deps -e .
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	@echo "$(GOAL): installing the test and lint tools into $(VENV)"
	$(UV_INSTALL) -r requirements-dev.txt
	touch $@

# moodlab's own modules byte-compiled, as pip does for an installed package (an
# editable install is not, and where PYTHONDONTWRITEBYTECODE is set nothing else
# writes them: every command would compile its modules again, 0.2 s for a crawl).
# compileall rewrites only what changed.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q moodlab migrations pages app.py

## Migrate the database, start the worker and the web app (Ctrl-C stops both).
run: bytecode
	$(BIN)/moodlab serve --port $(PORT)

## A labelled demo workspace in ./demo (generated data, a few minutes to build), served.
demo: bytecode
	$(BIN)/moodlab demo --port $(PORT)

## Lint and type-check, then the whole test suite (browser tests included) on SQLite; then, when
## MOODLAB_TEST_POSTGRES_URL names a PostgreSQL server (`.ci/with-postgres make test`
## starts one), the database-facing tests again on PostgreSQL. Each part runs alone too:
## `make lint`, `make typecheck`, `make test-sqlite`, `make test-postgres`.
test: test-packages $(VENV)/.dev-installed
	@$(MAKE) --no-print-directory lint
	@# mypy (half a minute on one core) beside the SQLite pass's parallel part, which
	@# leaves a third of the two cores idle while its tests wait on servers and browsers.
	@$(MAKE) --no-print-directory -j2 typecheck test-sqlite-parallel
	@$(MAKE) --no-print-directory test-sqlite-alone
	@if [ -n "$$MOODLAB_TEST_POSTGRES_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "make test: MOODLAB_TEST_POSTGRES_URL is not set, so no PostgreSQL pass"; fi

## Debian's chromium for the browser tests, installed when missing (as root or with sudo);
## without it `make test` stops here: a missing browser fails the suite, never skips it.
test-packages:
	@.ci/debian-packages --caller "make test" chromium

# Each pass runs the suite on PYTEST_WORKERS processes (pytest-xdist), then the tests
# marked `alone` (timed or load-sensitive: they get the machine to themselves).
# pytest's status 5, "no test collected", is a pass when PYTEST_ARGS picked none of them.
# Three workers on two cores: a third runs while the others wait on their servers,
# browsers and workers (docs/development.md#running-the-tests).
PYTEST_WORKERS ?= 3
# pytest keeps each test module it rewrote (for its asserts) in __pycache__, and Python
# each module it compiled, unless PYTHONDONTWRITEBYTECODE is set (as on this project's
# machines): then every pytest process rewrote all the test modules again (4 of its 9 s
# of collecting) and every `moodlab serve` or worker a test starts compiled moodlab
# from source. The tests write them (__pycache__ is ignored by git).
PYTEST_ENV = PYTHONDONTWRITEBYTECODE=
PYTEST_PARALLEL = $(PYTEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25 -m "not alone"
PYTEST_ALONE = $(PYTEST_ENV) $(BIN)/python -m pytest -p no:xdist -m alone
# The alone part collects only the files that mark a test `alone` (collecting the whole
# suite for its few tests took 9 s), unless PYTEST_ARGS names what to run; tests/conftest.py
# refuses a test marked alone anywhere but in its own file, which this would miss.
ALONE_FILES := $(shell grep -rlE --include='test_*.py' 'mark\.alone' tests)
NONE_COLLECTED_IS_FINE = status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

## The whole suite on SQLite, browser tests included.
test-sqlite: test-sqlite-parallel
	@$(MAKE) --no-print-directory test-sqlite-alone

test-sqlite-parallel: test-packages $(VENV)/.dev-installed
	$(PYTEST_PARALLEL) $(PYTEST_ARGS); $(NONE_COLLECTED_IS_FINE)

test-sqlite-alone: test-packages $(VENV)/.dev-installed
	$(PYTEST_ALONE) $(or $(PYTEST_ARGS),$(ALONE_FILES)); $(NONE_COLLECTED_IS_FINE)

# The PostgreSQL pass leaves out what touches no database or only its own (a test that
# asks for no database, the browser tests of pages: tests/conftest.py skips them there,
# docs/development.md#the-postgresql-pass), and training
# (minutes of TensorFlow for a handful of rows; it passes on PostgreSQL:
# `make test-postgres POSTGRES_PASS_IGNORE=`), the demo (always its own SQLite file)
# and the synthesiser.
POSTGRES_PASS_IGNORE := --ignore=tests/training/test_training_run.py --ignore=tests/training/test_training_models.py \
	--ignore=tests/training/test_training_spread.py --ignore=tests/training/test_fine_tune.py \
	--ignore=tests/test_demo.py --ignore=tests/music/test_music_synth.py \
	--deselect=tests/test_faults.py::test_a_training_run_killed_mid_way_resumes_at_the_next_fold

## The database-facing tests on PostgreSQL (needs MOODLAB_TEST_POSTGRES_URL).
test-postgres: test-packages $(VENV)/.dev-installed
	MOODLAB_TEST_BACKEND=postgresql $(PYTEST_PARALLEL) -m "not sqlite_only and not alone" \
		$(POSTGRES_PASS_IGNORE) $(PYTEST_ARGS); $(NONE_COLLECTED_IS_FINE)
	MOODLAB_TEST_BACKEND=postgresql $(PYTEST_ALONE) -m "alone and not sqlite_only" \
		$(POSTGRES_PASS_IGNORE) $(or $(PYTEST_ARGS),$(ALONE_FILES)); $(NONE_COLLECTED_IS_FINE)

## ruff: the linter and the formatter's check.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## mypy on moodlab/.
typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

migrate: bytecode
	$(BIN)/moodlab migrate

worker: bytecode
	$(BIN)/moodlab worker

clean-venv:
	rm -rf $(VENV)

# Benchmark-only tools (Scrapy) live in their own venv, never in .venv.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: requirements-bench.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --progress-bar on -r requirements-bench.txt
	touch $@

## Scrapy for benchmarks/crawl.py, pinned in requirements-bench.txt, into .venv-bench.
bench-deps: $(BENCH_VENV)/.installed

## The crawl benchmark: moodlab against Scrapy on a local 4-host site (docs/benchmarks.md);
## BENCH_ARGS="--delay 1 --pages 20 --images 100" for the politeness run.
bench: bytecode $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/crawl.py $(BENCH_ARGS)
