# Two commands from a fresh clone: `make run` and `make test`. Each builds .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
# Self-hosters: point pip at a CPU-only wheel index (e.g. the PyTorch CPU index) to avoid the CUDA build.
TORCH_INDEX_URL ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mentor run

lint: $(STAMP)
	$(BIN)/ruff check bot ingest tests bench
	$(BIN)/ruff format --check bot ingest tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run_all
	$(BIN)/python -m bench.simulate --out bench/results/simulate.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
