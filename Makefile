# Two entry points (see README): `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup test-setup

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,url,onnx,tune,ray]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/genrekit serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test-setup: $(STAMP)
	bash scripts/test-setup.sh

test: test-setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)
