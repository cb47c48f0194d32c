# Two commands on a fresh machine: `make demo` and `make test`.
# Both create and use the local virtual environment .venv by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install lock clean

# Exactly the releases of requirements.lock, without their dependencies' dependencies: what the lock
# leaves out (torch's GPU compiler) is never installed. No .pyc files ahead of time: only what is imported
# gets one. Both keep the install within a small disk.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-compile --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fashionlens demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The tests that take seconds, not minutes: without the slow, browser and DDP tests (pyproject.toml's markers).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser and not ddp"

# The habits CI holds besides the tests: ruff's lint and format, mypy on the package, and the layers'
# import contracts (pyproject.toml: [tool.ruff], [tool.mypy], [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# Re-pin every release after a change to pyproject.toml's dependencies or to constraints.txt. The lock holds
# the dev and ray extras too: `make test` runs their tests.
lock:
	$(PYTHON) -m pip install --quiet --dry-run --ignore-installed --report lock-report.json -c constraints.txt -e '.[dev,ray]'
	$(PYTHON) scripts/lock.py lock-report.json
	rm lock-report.json

clean:
	rm -rf $(VENV) demo-out
