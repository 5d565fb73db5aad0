# Two commands: `make run` (the service on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lock migrate seed bench lint clean

## Installs exactly the locked versions (hashes checked), then the project itself without resolving again.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## Regenerate requirements.lock from pyproject.toml (a reviewed change: read the diff, run the suite).
lock:
	$(PYTHON) -m venv $(VENV)-piptools
	$(VENV)-piptools/bin/pip install --quiet "pip-tools>=7.4,<8"
	$(VENV)-piptools/bin/pip-compile --quiet --generate-hashes --extra test --strip-extras --allow-unsafe \
	    --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

migrate: $(STAMP)
	$(VENV)/bin/interdept db upgrade

seed: migrate
	INTERDEPT_DEMO=$${INTERDEPT_DEMO:-1} $(VENV)/bin/interdept seed  # the embedded demo: demo users unless INTERDEPT_DEMO=0

## The service: web + worker + beat on SQLite and a filesystem broker under var/.
run: seed
	$(VENV)/bin/interdept run --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

## The whole test suite. In CI INTERDEPT_REQUIRE_SERVICES=1 makes a missing server a failure.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## The layers contract: imports point down only.
lint: $(STAMP)
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
