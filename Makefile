# Bastion: the two front doors are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per install kind and pyproject.toml version: `make run` installs only what the gateway
# needs; `make test` adds the dev extras (linters, SDKs, schema checkers).
HASH := $(shell sha256sum pyproject.toml | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
CONFIG ?= examples/demo.yaml
PORT ?= 4000

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck unit bench bench-quick bench-soak bench-servers bench-peers clean js-deps docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@ $(RUN_STAMP)

run: $(RUN_STAMP) ## set up .venv (the gateway only) and serve the offline demo (examples/demo.yaml, port 4000)
	$(BIN)/bastion serve --config $(CONFIG) --port $(PORT)

js-deps: ## install what the JS SDK and browser tests need (npm ci in clients/js; Debian's chromium if missing)
	bash clients/js/install-test-tools.sh

test: $(DEV_STAMP) js-deps ## set up and run lint, types, layer checks and the whole test suite
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(DEV_STAMP) ## only the fast unit tests
	$(BIN)/pytest -q tests/unit

bench: $(DEV_STAMP) ## benchmark direct-to-mock against through-Bastion (and LiteLLM, Portkey if installed)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(DEV_STAMP) ## a short smoke run of the benchmark
	$(BIN)/python -m bench --quick

bench-soak: $(DEV_STAMP) ## memory over 300,000 requests per keyed gateway (SQLite, PostgreSQL + Redis)
	$(BIN)/python -m bench --soak $(BENCH_ARGS)

bench-servers: $(DEV_STAMP) ## compare HTTP servers: Bastion's own, uvicorn, Granian; one worker and two
	$(BIN)/python -m bench --servers $(BENCH_ARGS)

bench-peers: ## install the peers, pinned, into bench/.peers/: LiteLLM's proxy, Portkey's gateway (npm), Granian
	bash bench/install_peers.sh

docs: $(DEV_STAMP) ## regenerate the configuration reference in docs/configuration.md from the code
	$(BIN)/python -m bastion.settings.reference docs/configuration.md

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
