# Bastion: the two front doors are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
CONFIG ?= examples/demo.yaml
PORT ?= 4000

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck unit bench bench-quick bench-servers bench-peers clean js-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## set up and start the gateway on the embedded default (examples/demo.yaml, port 4000)
	@echo "Demo master key: export BASTION_KEY=sk-bastion-demo"
	$(BIN)/bastion serve --config $(CONFIG) --port $(PORT)

js-deps: ## install what the JS SDK and browser tests need (npm ci in clients/js; Debian's chromium if missing)
	bash clients/js/install-test-tools.sh

test: $(STAMP) js-deps ## set up and run lint, types, layer checks and the whole test suite
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(STAMP) ## only the fast unit tests
	$(BIN)/pytest -q tests/unit

bench: $(STAMP) ## benchmark direct-to-mock against through-Bastion (and LiteLLM if installed)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(STAMP) ## a short smoke run of the benchmark
	$(BIN)/python -m bench --quick

bench-servers: $(STAMP) ## compare HTTP servers: Bastion's own, uvicorn, Granian; one worker and two
	$(BIN)/python -m bench --servers $(BENCH_ARGS)

bench-peers: ## install LiteLLM's proxy and Granian into bench/.peers/ for comparison runs
	bash bench/install_peers.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
