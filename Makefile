# Two entry points (see README): `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve

.PHONY: run test setup test-setup reliability

# `make test`: everything (torch first: any other torch spec pulls multi-GB CUDA wheels).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[train,dev,url,tune,ray,vector]'
	touch $(STAMP)

# `make run`: the serving set only (classifier, CLI, service on ONNX Runtime; no torch).
$(SERVE_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(SERVE_STAMP)

setup: $(STAMP)

run: $(SERVE_STAMP)
	$(BIN)/genrekit serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test-setup: $(STAMP)
	bash scripts/test-setup.sh

# Two pytest-xdist workers (whole files per worker: module fixtures such as servers start once),
# then the few `serial` tests in one process; exit status 5 = "nothing selected" (PYTEST_ARGS
# naming only tests of the other pass) is not a failure.
TEST_WORKERS ?= 2
test: test-setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# `make reliability`: the local deployment (PostgreSQL, two replicas, nginx, Prometheus when
# installed) under load, faults and abuse, several minutes (docs/reliability.md); the figures
# go to reliability-results.json. RELIABILITY_ARGS="--duration 60 --long 180" for longer runs.
reliability: test-setup
	$(BIN)/python deploy/local/reliability.py $(RELIABILITY_ARGS)
